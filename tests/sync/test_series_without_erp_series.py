"""An ERP WITHOUT series (``GET /capabilities``: ``series: false``): each occurrence of an Outlook series inside
the window is an activity of its own, linked to its occurrence (R28's fallback), on the in-process fakes.

Graph facts relied on (graph-facts §1, §4; pages "event: delta", "Update event"): occurrence ids are derived
from the master and the original start, so moving a series gives every occurrence a new id (the old ones
``@removed``); occurrences carry ``seriesMasterId`` and ``originalStart``. The sync matches them by series and
position, so the SAME activities are updated, never voided and made again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.sync.series_helpers import (
    MAILBOX,
    USER,
    ZONE,
    activities,
    fake_stack,
    occurrences,
    outlook_series,
    sync,
    writes,
)


async def test_without_erp_series_each_occurrence_is_one_activity_and_a_second_run_is_quiet() -> None:
    """R28 fallback: 3 occurrences, 3 activities, none with a recurrence; the next run writes nothing."""
    async with fake_stack(series=False) as stack:
        await outlook_series(stack)
        report = await sync(stack)
        assert report.done["erp created"] == 3
        found = await activities(stack)
        assert len(found) == 3
        assert all(a.get("recurrence") is None for a in found)
        assert not writes(await sync(stack))


async def test_without_erp_series_editing_the_whole_series_updates_every_occurrence_activity() -> None:
    """R28 fallback: a new subject on the master updates the 3 activities (same ids)."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        ids = sorted(a["id"] for a in await activities(stack))
        await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{master_id}", json={"subject": "Weekly sync"})
        report = await sync(stack)
        assert report.done["erp updated"] == 3
        after = await activities(stack)
        assert sorted(a["id"] for a in after) == ids
        assert {a["subject"] for a in after} == {"Weekly sync"}


async def test_without_erp_series_moving_the_whole_series_updates_the_same_activities() -> None:
    """R28 fallback: the series moved to 12:00 on the next day (every occurrence id changes in Graph) updates
    the same 3 activities: no void, no create."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        ids = sorted(a["id"] for a in await activities(stack))
        master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        day = datetime.fromisoformat(master["start"]["dateTime"][:19]).date() + timedelta(days=1)
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{master_id}",
            json={
                "start": {"dateTime": f"{day.isoformat()}T12:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day.isoformat()}T13:00:00", "timeZone": ZONE},
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day.strftime("%A").lower()]},
                    "range": {"type": "numbered", "startDate": day.isoformat(), "numberOfOccurrences": 3},
                },
            },
        )
        report = await sync(stack)
        assert report.done["occurrences followed"] == 3
        assert report.done["erp updated"] == 3
        assert "erp voided" not in report.done
        assert "erp created" not in report.done
        after = await activities(stack)
        assert sorted(a["id"] for a in after) == ids
        assert all(a["start"].endswith("T12:00:00") for a in after)
        assert not writes(await sync(stack))


async def test_without_erp_series_changing_the_pattern_keeps_the_activities_by_position() -> None:
    """R28 fallback: the pattern changed from 3 to 4 weekly occurrences on another weekday: the 3 activities
    follow the first 3 occurrences in order, one more is created; nothing is voided."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        ids = sorted(a["id"] for a in await activities(stack))
        master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        day = datetime.fromisoformat(master["start"]["dateTime"][:19]).date() + timedelta(days=2)
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{master_id}",
            json={
                "start": {"dateTime": f"{day.isoformat()}T10:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day.isoformat()}T11:00:00", "timeZone": ZONE},
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day.strftime("%A").lower()]},
                    "range": {"type": "numbered", "startDate": day.isoformat(), "numberOfOccurrences": 4},
                },
            },
        )
        report = await sync(stack)
        assert report.done["occurrences followed"] == 3
        assert report.done["erp created"] == 1
        assert "erp voided" not in report.done
        after = await activities(stack)
        assert len(after) == 4
        assert set(ids) <= {a["id"] for a in after}


async def test_without_erp_series_moving_one_occurrence_updates_its_activity_only() -> None:
    """R28 fallback: one occurrence moved (an exception in Graph, same id) updates its own activity."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        second = (await occurrences(stack, master_id))[1]
        day = second["start"]["dateTime"][:10]
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{second['id']}",
            json={
                "start": {"dateTime": f"{day}T15:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T16:00:00", "timeZone": ZONE},
            },
        )
        report = await sync(stack)
        assert report.done["erp updated"] == 1
        starts = sorted(a["start"] for a in await activities(stack))
        assert f"{day}T15:00:00" in starts
        assert len(starts) == 3


async def test_without_erp_series_cancelling_one_occurrence_voids_its_activity_only() -> None:
    """R28 fallback/R8: one occurrence deleted in Outlook voids its own activity; the others stay."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        third = (await occurrences(stack, master_id))[2]
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{third['id']}")
        report = await sync(stack)
        assert report.done["erp voided"] == 1
        assert len(await activities(stack)) == 2


async def test_without_erp_series_deleting_the_series_voids_every_occurrence_activity() -> None:
    """R28 fallback/R8: deleting the series voids all its activities."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{master_id}")
        report = await sync(stack)
        assert report.done["erp voided"] == 3
        assert await activities(stack) == []


async def test_without_erp_series_moving_the_series_within_its_days_updates_the_same_activities() -> None:
    """R28 fallback: the series moved from 10:00 to 12:00 on the same days (new occurrence ids, the same
    occurrence iCalUIds) updates the same 3 activities: no void, no create."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        ids = sorted(a["id"] for a in await activities(stack))
        master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        day = master["start"]["dateTime"][:10]
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{master_id}",
            json={
                "start": {"dateTime": f"{day}T12:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T13:00:00", "timeZone": ZONE},
            },
        )
        report = await sync(stack)
        assert report.done["erp updated"] == 3
        assert "erp voided" not in report.done
        assert "erp created" not in report.done
        after = await activities(stack)
        assert sorted(a["id"] for a in after) == ids
        assert all(a["start"].endswith("T12:00:00") for a in after)
        assert not writes(await sync(stack))


async def test_without_erp_series_moving_the_series_within_its_days_moves_each_links_original_start() -> None:
    """R28 fallback: the series moved from 10:00 to 12:00 on the same days: each occurrence's link follows its
    occurrence to its new id (R10's rebind: the same occurrence iCalUIds) AND names its new original start, the
    position a later move of the series matches it by (found by the convergence machine)."""
    async with fake_stack(series=False) as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        day = master["start"]["dateTime"][:10]
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{master_id}",
            json={
                "start": {"dateTime": f"{day}T12:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T13:00:00", "timeZone": ZONE},
            },
        )
        await sync(stack)
        now = {o["id"]: o["originalStart"] for o in await occurrences(stack, master_id)}
        links = [link for link in await stack.memory.links_for_user(USER) if link.series_master_id == master_id]
        assert len(links) == 3
        for link in links:
            assert link.event_id in now, link
            assert link.original_start == datetime.fromisoformat(now[link.event_id].replace("Z", "+00:00")), link
        assert not writes(await sync(stack))
