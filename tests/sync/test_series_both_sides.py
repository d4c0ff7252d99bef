"""Both sides of a series changed in the same run (R28 with R6): each side's change survives, on the fakes.

Graph facts relied on (graph-facts §4; page "Update event"): PATCHing a master's body leaves its exceptions
alone (only a change of its times or pattern resets them).
"""

from __future__ import annotations

from emulators.fakes.stack import FakeStack
from tests.sync.series_helpers import (
    MAILBOX,
    ZONE,
    activities,
    erp_patch,
    erp_series,
    fake_stack,
    masters,
    occurrences,
    outlook_series,
    sync,
    writes,
)


async def _move_second(stack: FakeStack, master_id: str) -> str:
    second = (await occurrences(stack, master_id))[1]
    day = second["start"]["dateTime"][:10]
    await stack.outlook(
        "PATCH",
        f"/users/{MAILBOX}/events/{second['id']}",
        json={
            "start": {"dateTime": f"{day}T16:00:00", "timeZone": ZONE},
            "end": {"dateTime": f"{day}T17:00:00", "timeZone": ZONE},
        },
    )
    return day


async def test_occurrence_moved_in_outlook_and_description_changed_in_erp_both_survive() -> None:
    """R28/R6: an Outlook series; in one run's time an occurrence is moved in Outlook and the series'
    description is changed in the ERP: the ERP gets the exception, Outlook's master the description, and the
    moved occurrence stays moved."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        (activity,) = await activities(stack)
        day = await _move_second(stack, master_id)
        await erp_patch(stack, activity["id"], {"description": "agenda: pricing"})
        report = await sync(stack)
        assert report.done["erp series updated"] == 1
        assert report.done["m365 series updated"] == 1
        (after,) = await activities(stack)
        assert after["description"] == "agenda: pricing"
        assert [e["originalStart"] for e in after["exceptions"]] == [f"{day}T10:00:00"]
        master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        assert "agenda: pricing" in master["body"]["content"]
        moved = (await occurrences(stack, master_id))[1]
        assert moved["type"] == "exception"
        assert not writes(await sync(stack))


async def test_erp_series_occurrence_moved_in_outlook_reaches_the_erp_while_its_subject_changes_there() -> None:
    """R28/R6/R21: an ERP-born series; an occurrence moved in Outlook (times flow back) and a new subject in the
    ERP in the same run: the ERP keeps its subject and gains the exception, the master gets the new title."""
    async with fake_stack() as stack:
        activity = await erp_series(stack)
        await sync(stack)
        (master,) = await masters(stack)
        day = await _move_second(stack, master["id"])
        await erp_patch(stack, activity["id"], {"subject": "Series review (new)"})
        await sync(stack)
        (after,) = await activities(stack)
        assert after["subject"] == "Series review (new)"
        assert [(e["originalStart"], e["start"]) for e in after["exceptions"]] == [
            (f"{day}T13:00:00", f"{day}T16:00:00")
        ]
        (master,) = await masters(stack)
        assert master["subject"].startswith("Meeting: Series review (new)")
        assert (await occurrences(stack, master["id"]))[1]["type"] == "exception"
        assert not writes(await sync(stack))


async def test_an_occurrence_moved_in_outlook_and_another_cancelled_in_the_erp_both_survive() -> None:
    """R28/R6 occurrence by occurrence: the 2nd occurrence moved in Outlook and the 3rd cancelled in the ERP in
    the same run: the ERP keeps its cancel and gains the move; Outlook keeps its move and loses the 3rd."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        (activity,) = await activities(stack)
        third = (await occurrences(stack, master_id))[2]
        d3 = third["start"]["dateTime"][:10]
        day = await _move_second(stack, master_id)
        await erp_patch(stack, activity["id"], {"exceptions": [{"originalStart": f"{d3}T10:00:00", "cancelled": True}]})
        await sync(stack)
        (after,) = await activities(stack)
        assert [(e["originalStart"], e.get("start"), e.get("cancelled")) for e in after["exceptions"]] == [
            (f"{day}T10:00:00", f"{day}T16:00:00", False),
            (f"{d3}T10:00:00", None, True),
        ]
        found = await occurrences(stack, master_id)
        assert len(found) == 2
        assert found[1]["type"] == "exception"
        assert not writes(await sync(stack))


async def test_the_same_occurrence_changed_on_both_sides_within_the_skew_goes_to_outlook() -> None:
    """R28/R6: the 2nd occurrence moved in Outlook and cancelled in the ERP within the clock skew (2 s): a tie,
    which Outlook wins: the ERP's exception becomes Outlook's move, and Outlook keeps all 3 occurrences."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        (activity,) = await activities(stack)
        day = await _move_second(stack, master_id)
        await erp_patch(
            stack, activity["id"], {"exceptions": [{"originalStart": f"{day}T10:00:00", "cancelled": True}]}
        )
        await sync(stack)
        (after,) = await activities(stack)
        assert [(e["originalStart"], e.get("start"), e.get("cancelled")) for e in after["exceptions"]] == [
            (f"{day}T10:00:00", f"{day}T16:00:00", False)
        ]
        found = await occurrences(stack, master_id)
        assert len(found) == 3
        assert found[1]["type"] == "exception"
        assert not writes(await sync(stack))
