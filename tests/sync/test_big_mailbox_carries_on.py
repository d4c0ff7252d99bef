"""Issue 12, item 5: a mailbox too big for one invocation finishes its first sync across several.

A run stops writing when its time budget is spent (``shared/sync/budget.py``), leaves its cursors where they
were and says it ``continues``; the worker queues the next invocation at once, which reads the same changes,
finds what is already linked and writes the rest. Nothing is written twice (R10), nothing is lost.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared import handlers
from shared.queueing import SyncRequest
from shared.sync import budget
from tests.sync.conftest import Stack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"
EVENTS = 130


def _event(n: int) -> dict[str, object]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1 + n % 20, hours=n % 8)
    return {
        "subject": f"Visit {n}",
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=30)).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }


async def _activities(stack: Stack) -> list[dict[str, object]]:
    """Every live activity Ann owns, through the ERP's feed (all pages)."""
    found: list[dict[str, object]] = []
    params = {"userId": USER}
    while True:
        page = (await stack.erp_call("GET", "/activity-changes", params=params)).json()
        found += [c["activity"] for c in page["items"] if c.get("activity") and c["activity"]["state"] != "voided"]
        if not page["hasMore"]:
            return found
        params = {"userId": USER, "cursor": page["nextCursor"]}


@pytest.fixture
def tiny_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run's budget is spent after its first chunk of 50 actions (as a huge mailbox spends 7 minutes)."""
    monkeypatch.setattr(budget, "RUN_BUDGET_SECONDS", 0.0)
    monkeypatch.setattr(budget, "CHUNK", 50)


@pytest.mark.usefixtures("tiny_budget")
async def test_first_sync_of_a_big_mailbox_carries_on_across_invocations_with_nothing_twice(stack: Stack) -> None:
    """130 Outlook events and a budget of one chunk (50 writes) a run: the first two runs continue, the third
    finishes; every event is exactly one ERP activity, and one more run writes nothing (R5, R10)."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    emulator = stack.graph_app.state.emulator
    ann = emulator.state.user(MAILBOX)
    for n in range(EVENTS):
        emulator.state.create_event(ann, _event(n))

    statuses = []
    for _ in range(4):
        report = await stack.services.engine.sync_user(USER)
        statuses.append((report.status, report.done["erp created"]))
        if report.status == "ok":
            break
    assert statuses == [("continues", 50), ("continues", 50), ("ok", 30)]
    subjects = Counter(a["subject"] for a in await _activities(stack))
    assert len(subjects) == EVENTS
    assert set(subjects.values()) == {1}
    quiet = await stack.services.engine.sync_user(USER)
    assert (quiet.status, sum(quiet.done.values())) == ("ok", 0)


@pytest.mark.usefixtures("tiny_budget")
async def test_worker_queues_the_next_invocation_of_a_run_that_continues(stack: Stack) -> None:
    """The worker records a run that continues and queues the user again at once (one message)."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    emulator = stack.graph_app.state.emulator
    ann = emulator.state.user(MAILBOX)
    for n in range(60):
        emulator.state.create_event(ann, _event(n))
    sent: list[SyncRequest] = []

    class Recording:
        async def enqueue(self, request: SyncRequest, *, delay_seconds: int = 0) -> None:
            sent.append(request)

    stack.services.queue = Recording()  # type: ignore[assignment]
    report = await handlers.sync_message(stack.services, SyncRequest(user_id=USER, reason="safety-net").to_json())
    assert report is not None
    assert report.status == "continues"
    assert [r.user_id for r in sent] == [USER]
