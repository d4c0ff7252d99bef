"""How many Graph requests a run costs (issue 12, item 1): no read per event to find our ERP stamp.

A calendar-view delta answers no extended properties and refuses ``$expand`` (page "event: delta",
https://learn.microsoft.com/en-us/graph/api/event-delta), so the stamp of unlinked events comes from one
filtered listing of the stamped events (page "Get singleValueLegacyExtendedProperty",
https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get), not a ``GET`` each.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared.graph.convert import ERP_STAMP_PROPERTY
from tests.sync.conftest import Stack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"


def _event(n: int, stamp: str | None = None, transaction_id: str | None = None) -> dict[str, object]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1 + n % 20, hours=n % 8)
    body: dict[str, object] = {
        "subject": f"Outlook {n}",
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=30)).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }
    if stamp:
        body["singleValueExtendedProperties"] = [{"id": ERP_STAMP_PROPERTY, "value": stamp}]
    if transaction_id:
        body["transactionId"] = transaction_id
    return body


def _kinds(stack: Stack) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in stack.graph_app.state.emulator.state.requests:
        path = r.path.split("?")[0]
        is_one_event = "/events/" in path and path.rsplit("/", 1)[-1] not in ("events", "instances")
        out[f"{r.method} {'/events/{id}' if is_one_event else path.rsplit('/', 1)[-1]}"] += 1
    return out


@pytest.mark.integration
async def test_initial_pull_of_250_events_reads_no_event_one_by_one(stack: Stack) -> None:
    """250 Outlook events made in Outlook (``transactionId`` null: not made by the sync, so no stamp to look
    for), none linked: 3 delta pages (100 a page) and nothing else; every event becomes one ERP activity."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    emulator = stack.graph_app.state.emulator
    ann = emulator.state.user(MAILBOX)
    for n in range(250):
        emulator.state.create_event(ann, _event(n))
    emulator.state.requests.clear()

    report = await stack.services.engine.sync_user(USER)

    assert report.status == "ok", report
    assert report.done["erp created"] == 250
    kinds = _kinds(stack)
    assert kinds["GET /events/{id}"] == 0, kinds
    assert kinds["GET events"] == 0, kinds
    assert sum(kinds.values()) <= 4, kinds


@pytest.mark.integration
async def test_event_stamped_by_a_crashed_run_is_relinked_not_duplicated(stack: Stack) -> None:
    """A run that created an event for an activity and died before saving the link leaves a stamped, unlinked
    event (with the sync's ``transactionId``): among several unlinked events with a ``transactionId`` (another
    app's), one listing of the stamped events finds it and the event is relinked (R10), so the ERP gets no
    second activity and nothing is read one by one."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    activity = (
        await stack.erp_call(
            "POST",
            "/activities",
            json={
                "type": "meeting",
                "subject": "Quote review",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "timeZone": "UTC",
                "ownerId": USER,
                "state": "confirmed",
            },
            headers={"Idempotency-Key": "quote-review"},
        )
    ).json()
    emulator = stack.graph_app.state.emulator
    ann = emulator.state.user(MAILBOX)
    for n in range(5):
        emulator.state.create_event(ann, _event(n, transaction_id=f"other-app-{n}"))
    ours = _event(9, stamp=activity["id"], transaction_id="ours-1") | {"subject": "Meeting: Quote review"}
    emulator.state.create_event(ann, ours)
    emulator.state.requests.clear()

    report = await stack.services.engine.sync_user(USER)

    assert report.status == "ok", report
    assert report.done["relinked"] == 1, report.done
    assert report.done["erp created"] == 5, report.done
    assert report.done.get("m365 created", 0) == 0, report.done
    kinds = _kinds(stack)
    assert kinds["GET events"] == 1, kinds
    assert kinds["GET /events/{id}"] == 1, kinds  # the relink reads its one event again; nothing else is read


@pytest.mark.integration
async def test_one_new_or_changed_event_after_the_first_sync_costs_at_most_two_requests(stack: Stack) -> None:
    """After the first sync, one new Outlook event costs the delta round and one read of its stamp; one edited
    (linked) event only the delta round (page "Get incremental changes to events in a calendar view",
    https://learn.microsoft.com/en-us/graph/delta-query-events)."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    emulator = stack.graph_app.state.emulator
    ann = emulator.state.user(MAILBOX)
    for n in range(30):
        emulator.state.create_event(ann, _event(n))
    assert (await stack.services.engine.sync_user(USER)).status == "ok"

    new = emulator.state.create_event(ann, _event(40))[0]
    emulator.state.requests.clear()
    report = await stack.services.engine.sync_user(USER)
    assert report.done["erp created"] == 1, report.done
    assert len(emulator.state.requests) <= 2, _kinds(stack)

    await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{new.id}", json={"subject": "Renamed"})
    emulator.state.requests.clear()
    report = await stack.services.engine.sync_user(USER)
    assert report.done["erp updated"] == 1, report.done
    assert len(emulator.state.requests) <= 2, _kinds(stack)


@pytest.mark.integration
async def test_thirty_deletions_are_confirmed_in_eight_batches(stack: Stack) -> None:
    """30 of 70 linked events deleted in Outlook: each ``@removed`` is confirmed by a read (R9: it may only mean "moved
    out of the window"), 4 independent reads to a ``$batch`` (page "JSON batching",
    https://learn.microsoft.com/en-us/graph/json-batching: a chained item whose dependency failed, as a 404 does,
    is not run; and no more than 4 at once per mailbox), so 8 round trips rather than 30."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    emulator = stack.graph_app.state.emulator
    ann = emulator.state.user(MAILBOX)
    made = [emulator.state.create_event(ann, _event(n))[0] for n in range(70)]
    assert (await stack.services.engine.sync_user(USER)).done["erp created"] == 70
    for event in made[:30]:  # under R11's mass-deletion guard (half of the linked items)
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{event.id}")
    emulator.state.requests.clear()

    report = await stack.services.engine.sync_user(USER)

    assert report.done["erp voided"] == 30, report.done
    kinds = _kinds(stack)
    assert kinds["GET /events/{id}"] == 30, kinds  # the batches' items, logged one by one
    assert kinds["POST $batch"] == 8, kinds
