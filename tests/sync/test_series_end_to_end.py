"""Series both ways on the real adapters (R28): msgraph-sdk against the Graph emulator, HttpErp against the
reference ERP over HTTP, links in Azurite (``emulators.stack``).

Graph facts relied on (graph-facts §1, §4; pages "event: delta", "Get event", "List instances", "Update
event", "Delete event"): the delta carries occurrences and exceptions with ``seriesMasterId`` and
``originalStart`` but never the master, which is read by its id; occurrences are PATCHed or DELETEd by id.
"""

from __future__ import annotations

import pytest

from emulators.stack import start_stack
from shared.sync.report import RunReport
from tests.sync.conftest import Stack
from tests.sync.series_helpers import (
    MAILBOX,
    USER,
    ZONE,
    activities,
    erp_patch,
    erp_series,
    masters,
    occurrences,
    outlook_series,
)


async def _sync(stack: Stack) -> RunReport:
    report = await stack.services.engine.sync_user(USER)
    assert report.status == "ok", report
    assert not report.issues, report.issues
    return report


@pytest.mark.integration
async def test_series_sync_both_ways_with_a_moved_occurrence_on_the_real_adapters(stack: Stack) -> None:
    """R28: an Outlook series becomes one ERP series activity, and an ERP series one Outlook series; an
    occurrence moved in Outlook becomes an exception in the ERP while the ERP's new description reaches the
    master (R6); a cancelled ERP occurrence is deleted in Outlook; the last run writes nothing."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", time_zone=ZONE)
    master_id = await outlook_series(stack)
    erp_born = await erp_series(stack)
    first = await _sync(stack)
    assert first.done["erp series created"] == 1
    assert first.done["m365 series created"] == 1
    series = {a["subject"]: a for a in await activities(stack)}
    assert set(series) == {"Weekly check-in", "Series review"}
    assert series["Weekly check-in"]["recurrence"]["range"]["numberOfOccurrences"] == 3

    second = (await occurrences(stack, master_id))[1]
    day = second["start"]["dateTime"][:10]
    await stack.outlook(
        "PATCH",
        f"/users/{MAILBOX}/events/{second['id']}",
        json={
            "start": {"dateTime": f"{day}T14:00:00", "timeZone": ZONE},
            "end": {"dateTime": f"{day}T15:00:00", "timeZone": ZONE},
        },
    )
    await erp_patch(stack, series["Weekly check-in"]["id"], {"description": "agenda: pricing"})
    (erp_master,) = [m for m in await masters(stack) if m["id"] != master_id]
    third = (await occurrences(stack, erp_master["id"]))[2]
    cancelled_day = third["start"]["dateTime"][:10]
    await erp_patch(
        stack, erp_born["id"], {"exceptions": [{"originalStart": f"{cancelled_day}T13:00:00", "cancelled": True}]}
    )
    await _sync(stack)

    series = {a["subject"]: a for a in await activities(stack)}
    outlook_born = series["Weekly check-in"]
    assert outlook_born["description"] == "agenda: pricing"
    assert [(e["originalStart"], e["start"]) for e in outlook_born["exceptions"]] == [
        (f"{day}T10:00:00", f"{day}T14:00:00")
    ]
    master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
    assert "agenda: pricing" in master["body"]["content"]
    assert len(await occurrences(stack, erp_master["id"])) == 2
    quiet = await _sync(stack)
    assert not {k: v for k, v in quiet.done.items() if v}, quiet.done


@pytest.mark.integration
async def test_without_erp_series_a_moved_outlook_series_updates_the_same_activities_on_the_real_adapters(
    azurite_connection_string: str,
) -> None:
    """R28 fallback through HttpErp (``GET /capabilities``: ``series: false``) and msgraph-sdk: one activity per
    occurrence; the series moved in Outlook (new occurrence ids) updates the same activities; deleting it voids
    them all."""
    started = await start_stack(azurite_connection_string, erp_series=False)
    try:
        await started.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", time_zone=ZONE)
        master_id = await outlook_series(started)
        first = await _sync(started)
        assert first.done["erp created"] == 3
        ids = sorted(a["id"] for a in await activities(started))
        master = (await started.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        day = master["start"]["dateTime"][:10]
        await started.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{master_id}",
            json={
                "start": {"dateTime": f"{day}T15:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T16:00:00", "timeZone": ZONE},
            },
        )
        moved = await _sync(started)
        assert moved.done["erp updated"] == 3
        assert "erp created" not in moved.done
        after = await activities(started)
        assert sorted(a["id"] for a in after) == ids
        assert all(a["start"].endswith("T15:00:00") for a in after)
        await started.outlook("DELETE", f"/users/{MAILBOX}/events/{master_id}")
        gone = await _sync(started)
        assert gone.done["erp voided"] == 3
        assert await activities(started) == []
    finally:
        await started.aclose()
