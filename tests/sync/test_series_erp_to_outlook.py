"""A recurring ERP activity becomes ONE Outlook series (R28), on the in-process fakes.

Graph facts relied on (graph-facts §4; pages "Create event" (recurring), "Update event", "Delete event",
"List instances"): a master is created with ``recurrence`` (range ``startDate`` the start's date, in the
series' zone); an occurrence is PATCHed (it becomes ``type: exception``) or DELETEd; a master PATCH of its
times or pattern resets the exceptions; deleting the master deletes the series.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.sync.series_helpers import (
    ZONE,
    erp_patch,
    erp_series,
    fake_stack,
    masters,
    occurrences,
    sync,
    writes,
)


async def test_erp_series_becomes_one_outlook_series_with_its_pattern_in_its_zone() -> None:
    """R28/R12/R21: a weekly ERP meeting series of 3 is one Outlook series master (not one single event), titled
    as an ERP meeting, repeating in the activity's zone; the next run is quiet."""
    async with fake_stack() as stack:
        activity = await erp_series(stack)
        report = await sync(stack)
        assert report.done["m365 series created"] == 1
        (master,) = await masters(stack)
        assert master["subject"].startswith("Meeting: Series review")
        assert master["recurrence"]["range"]["numberOfOccurrences"] == 3
        start = datetime.fromisoformat(activity["start"]).replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        assert master["start"]["dateTime"].startswith(start.strftime("%Y-%m-%dT%H:%M:%S"))  # Graph answers in UTC
        found = await occurrences(stack, master["id"])
        assert [o["type"] for o in found] == ["occurrence"] * 3
        assert not writes(await sync(stack))


async def test_erp_series_exceptions_move_and_cancel_outlook_occurrences() -> None:
    """R28: the ERP's exceptions are applied to the matching occurrences: a moved one is PATCHed (an exception
    in Outlook), a cancelled one is deleted."""
    async with fake_stack() as stack:
        activity = await erp_series(stack)
        await sync(stack)
        day = activity["start"][:10]
        (master,) = await masters(stack)
        second, third = (await occurrences(stack, master["id"]))[1:]
        d2, d3 = second["start"]["dateTime"][:10], third["start"]["dateTime"][:10]
        await erp_patch(
            stack,
            activity["id"],
            {
                "exceptions": [
                    {"originalStart": f"{d2}T13:00:00", "start": f"{d2}T15:00:00", "end": f"{d2}T16:00:00"},
                    {"originalStart": f"{d3}T13:00:00", "cancelled": True},
                ]
            },
        )
        report = await sync(stack)
        assert report.done["m365 series updated"] == 1
        found = await occurrences(stack, master["id"])
        assert len(found) == 2
        assert found[1]["type"] == "exception"
        moved = datetime.fromisoformat(f"{d2}T15:00:00").replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        assert found[1]["start"]["dateTime"].startswith(moved.strftime("%Y-%m-%dT%H:%M:%S"))
        assert day < d2
        assert not writes(await sync(stack))


async def test_erp_series_changed_updates_the_master_and_its_pattern() -> None:
    """R28: a new subject and one occurrence more in the ERP update the master (its pattern included)."""
    async with fake_stack() as stack:
        activity = await erp_series(stack)
        await sync(stack)
        recurrence = dict(activity["recurrence"])
        recurrence["range"] = {**recurrence["range"], "numberOfOccurrences": 4}
        await erp_patch(stack, activity["id"], {"subject": "Series review v2", "recurrence": recurrence})
        report = await sync(stack)
        assert report.done["m365 series updated"] == 1
        (master,) = await masters(stack)
        assert master["subject"].startswith("Meeting: Series review v2")
        assert len(await occurrences(stack, master["id"])) == 4
        assert not writes(await sync(stack))


async def test_erp_series_voided_removes_the_outlook_series() -> None:
    """R28/R8: voiding the series activity deletes its master, so every occurrence leaves the calendar."""
    async with fake_stack() as stack:
        activity = await erp_series(stack)
        await sync(stack)
        current = (await stack.erp_call("GET", f"/activities/{activity['id']}")).json()
        await stack.erp_call(
            "POST", f"/activities/{activity['id']}/void", headers={"If-Match": f'"{current["version"]}"'}
        )
        report = await sync(stack)
        assert report.done["m365 deleted"] == 1
        assert await masters(stack) == []
        assert not writes(await sync(stack))


async def test_erp_series_in_its_zone_keeps_wall_clock() -> None:
    """R12: the master repeats in the activity's zone (Oslo), its start at the activity's wall clock."""
    async with fake_stack() as stack:
        await erp_series(stack)
        await sync(stack)
        (master,) = await masters(stack)
        assert master["recurrence"]["range"]["recurrenceTimeZone"] in (ZONE, "W. Europe Standard Time")


async def test_erp_pattern_change_keeps_its_exceptions_in_outlook() -> None:
    """R28: a new pattern in the ERP (4 occurrences instead of 3) is PATCHed on the master, which resets Graph's
    exceptions ("Update event"; MS-OXOCAL); the ERP's cancelled occurrence is then applied again."""
    async with fake_stack() as stack:
        activity = await erp_series(stack)
        await sync(stack)
        (master,) = await masters(stack)
        second = (await occurrences(stack, master["id"]))[1]
        d2 = second["start"]["dateTime"][:10]
        current = await erp_patch(
            stack, activity["id"], {"exceptions": [{"originalStart": f"{d2}T13:00:00", "cancelled": True}]}
        )
        await sync(stack)
        assert len(await occurrences(stack, master["id"])) == 2
        recurrence = dict(current["recurrence"])
        recurrence["range"] = {**recurrence["range"], "numberOfOccurrences": 4}
        await erp_patch(stack, activity["id"], {"recurrence": recurrence})
        report = await sync(stack)
        assert report.done["m365 series updated"] == 1
        found = await occurrences(stack, master["id"])
        assert len(found) == 3
        assert d2 not in {o["start"]["dateTime"][:10] for o in found}
        assert not writes(await sync(stack))
