"""Outlook series reach an ERP that holds series as ONE series activity (R28), on the in-process fakes.

Graph facts relied on (graph-facts §1 and §4; page "event: delta", "Get event", "List instances"): a
calendar-view delta carries occurrences and exceptions of a series, never its master, so the sync reads the
master with ``GET /events/{seriesMasterId}`` and the occurrences with ``/instances``; occurrences carry
``seriesMasterId`` and ``originalStart``; deleting one occurrence removes it from the view (``@removed``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.sync.series_helpers import (
    MAILBOX,
    ZONE,
    activities,
    fake_stack,
    first_day,
    occurrences,
    outlook_series,
    sync,
    weekly,
    writes,
)


async def test_outlook_series_becomes_one_erp_series_activity_and_a_second_run_is_quiet() -> None:
    """R28: a weekly Outlook series of 3 is one ERP activity with its recurrence (not 3 activities); the next
    run writes nothing (R5: no echo)."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        first = await sync(stack)
        assert first.done["erp series created"] == 1
        found = await activities(stack)
        assert len(found) == 1, found
        activity = found[0]
        assert activity["recurrence"]["pattern"]["type"] == "weekly"
        assert activity["recurrence"]["range"]["numberOfOccurrences"] == 3
        assert activity["timeZone"] == ZONE
        assert activity["start"].endswith("T10:00:00")
        assert activity["origin"]["eventId"] == master_id
        assert activity["exceptions"] == []
        again = await sync(stack)
        assert not writes(again), again.done


async def test_outlook_series_edited_as_a_whole_updates_the_same_series_activity() -> None:
    """R28/R5: a new subject on the master reaches the series activity, which stays the only one."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{master_id}", json={"subject": "Weekly sync"})
        report = await sync(stack)
        assert report.done["erp series updated"] == 1
        found = await activities(stack)
        assert [a["subject"] for a in found] == ["Weekly sync"]
        assert not writes(await sync(stack))


async def test_outlook_series_moved_changes_the_pattern_of_the_same_activity() -> None:
    """R28: the whole series moved to the next day at 12:00 (new pattern, new occurrence ids in Graph) updates
    the same activity's start and recurrence; nothing is voided or created."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        before = (await activities(stack))[0]
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
        assert report.done["erp series updated"] == 1
        assert "erp voided" not in report.done
        assert "erp series created" not in report.done
        after = await activities(stack)
        assert [a["id"] for a in after] == [before["id"]]
        assert after[0]["start"] == f"{day.isoformat()}T12:00:00"
        assert after[0]["recurrence"]["pattern"]["daysOfWeek"] == [day.strftime("%A").lower()]
        assert not writes(await sync(stack))


async def test_outlook_occurrence_moved_becomes_an_exception_of_the_series_activity() -> None:
    """R28: one occurrence moved two hours later in Outlook (Graph: ``type: exception``) is an exception of the
    series activity, named by its original start (wall clock in the series' zone)."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        second = (await occurrences(stack, master_id))[1]
        day = second["start"]["dateTime"][:10]
        original = datetime.fromisoformat(second["originalStart"].replace("Z", "+00:00"))
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{second['id']}",
            json={
                "start": {"dateTime": f"{day}T12:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T13:00:00", "timeZone": ZONE},
            },
        )
        report = await sync(stack)
        assert report.done["erp series updated"] == 1
        (activity,) = await activities(stack)
        (exception,) = activity["exceptions"]
        assert exception["originalStart"] == f"{day}T10:00:00"
        assert exception["start"] == f"{day}T12:00:00"
        assert exception["end"] == f"{day}T13:00:00"
        assert not exception.get("cancelled")
        assert original.date().isoformat() == day
        assert not writes(await sync(stack))


async def test_outlook_occurrence_cancelled_becomes_a_cancelled_exception() -> None:
    """R28: one occurrence deleted in Outlook (gone from the view: ``@removed``) is a cancelled exception of the
    series activity; the activity itself stays."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        third = (await occurrences(stack, master_id))[2]
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{third['id']}")
        report = await sync(stack)
        assert report.done["erp series updated"] == 1
        (activity,) = await activities(stack)
        (exception,) = activity["exceptions"]
        assert exception["cancelled"] is True
        assert exception["originalStart"] == f"{third['start']['dateTime'][:10]}T10:00:00"
        assert not writes(await sync(stack))


async def test_outlook_series_deleted_voids_its_series_activity() -> None:
    """R28/R8: deleting the series in Outlook voids its one activity (the master's 404 confirms it, R9)."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{master_id}")
        report = await sync(stack)
        assert report.done["erp voided"] == 1
        assert await activities(stack) == []
        assert [a["state"] for a in await activities(stack, live=False)] == ["voided"]
        assert not writes(await sync(stack))


async def test_outlook_pattern_change_resets_the_series_activity_exceptions_as_graph_does() -> None:
    """R28: Graph drops a series' exceptions when its times or pattern change (page "Update event"; MS-OXOCAL
    "Updating a Recurring Series"): after an occurrence was cancelled, moving the whole series in Outlook leaves
    the activity with the new pattern and no exceptions, like Outlook."""
    async with fake_stack() as stack:
        master_id = await outlook_series(stack)
        await sync(stack)
        third = (await occurrences(stack, master_id))[2]
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{third['id']}")
        await sync(stack)
        assert len((await activities(stack))[0]["exceptions"]) == 1
        master = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}")).json()
        day = master["start"]["dateTime"][:10]
        await stack.outlook(
            "PATCH",
            f"/users/{MAILBOX}/events/{master_id}",
            json={
                "start": {"dateTime": f"{day}T08:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T09:00:00", "timeZone": ZONE},
            },
        )
        await sync(stack)
        (activity,) = await activities(stack)
        assert activity["start"] == f"{day}T08:00:00"
        assert activity["exceptions"] == []
        assert len(await occurrences(stack, master_id)) == 3
        assert not writes(await sync(stack))


async def test_a_synced_attendees_copy_of_a_series_is_linked_as_a_copy_and_its_answer_flows() -> None:
    """R28/R10/R27: Ann's series with Bob (synced) invited is ONE ERP activity whatever order their runs take:
    Bob's copy (the same master iCalUId, graph-facts §4) waits for Ann's run, then links to her activity as a
    copy; Bob accepting the series in Outlook reaches his participant row."""
    async with fake_stack() as stack:
        await stack.add_person(user_id="U-BOB", mailbox="bob@contoso.example", name="Bob", time_zone=ZONE)
        day = first_day()
        body = {
            "subject": "Team series",
            "start": {"dateTime": f"{day.isoformat()}T10:00:00", "timeZone": ZONE},
            "end": {"dateTime": f"{day.isoformat()}T11:00:00", "timeZone": ZONE},
            "recurrence": weekly(day),
            "attendees": [{"type": "required", "emailAddress": {"address": "bob@contoso.example", "name": "Bob"}}],
        }
        await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)
        bob = await stack.engine.sync_user("U-BOB")
        assert bob.status == "ok", bob
        assert any("waiting" in issue for issue in bob.issues), bob.issues
        await sync(stack)
        linked = await stack.engine.sync_user("U-BOB")
        assert linked.done["copies linked"] == 1, linked.done
        found = [a for a in await activities(stack) if a["subject"] == "Team series"]
        assert len(found) == 1
        assert found[0]["ownerId"] == "U-ANN"
        bobs = (await stack.outlook("GET", "/users/bob@contoso.example/events", params={"$top": "50"})).json()
        (copy,) = [e for e in bobs["value"] if e.get("type") == "seriesMaster"]
        await stack.outlook(
            "POST", f"/users/bob@contoso.example/events/{copy['id']}/accept", json={"sendResponse": True}
        )
        answered = await stack.engine.sync_user("U-BOB")
        assert answered.done["erp answered"] == 1, answered.done
        (activity,) = [a for a in await activities(stack) if a["subject"] == "Team series"]
        rows = {p.get("refId"): p["response"] for p in activity["participants"]}
        assert rows["U-BOB"] == "accepted"
        assert len([a for a in await activities(stack) if a["subject"] == "Team series"]) == 1
