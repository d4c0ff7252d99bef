"""``CollectingCalendar``: the event writes of executors running side by side go to Graph as one batch call
(issue 12, item 2; page "JSON batching", https://learn.microsoft.com/en-us/graph/json-batching)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from shared.core.m365 import EventWrite, M365Event
from shared.errors import GraphInvalid, GraphTransient
from shared.graph.port import CalendarPort, EventChange, EventChangeResult
from shared.sync.batch_writes import CollectingCalendar
from shared.sync.gathering import side_by_side

MAILBOX = "ann@contoso.example"


class _Calendar:
    """Records each ``write_events`` call; refuses subjects starting with "bad"; fails whole when told to."""

    def __init__(self, *, fail_whole: bool = False) -> None:
        self.batches: list[list[EventChange]] = []
        self.singles: list[str] = []
        self.fail_whole = fail_whole

    async def write_events(self, mailbox: str, changes: Sequence[EventChange]) -> list[EventChangeResult]:
        self.batches.append(list(changes))
        if self.fail_whole:
            raise GraphTransient("batch refused", status=503)
        return [
            EventChangeResult(error=GraphInvalid("refused", status=400))
            if c.write and (c.write.subject or "").startswith("bad")
            else EventChangeResult(event=_event(c.write.subject if c.write else ""))
            for c in changes
        ]

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event:
        self.singles.append(write.subject or "")
        return _event(write.subject or "")

    async def get_event(self, mailbox: str, event_id: str) -> M365Event:
        await asyncio.sleep(0.01)
        return _event(event_id)


def _event(subject: str | None) -> M365Event:
    moment = datetime(2026, 12, 1, 9, tzinfo=UTC)
    return M365Event(id=f"id-{subject}", subject=subject or "", start=moment, end=moment)


def _collector(inner: _Calendar, tasks: int) -> tuple[CollectingCalendar, CalendarPort]:
    collector = CollectingCalendar(cast(CalendarPort, inner), MAILBOX, tasks)
    return collector, cast(CalendarPort, collector)


async def test_writes_of_a_group_go_out_together_and_a_task_without_a_write_is_not_waited_for() -> None:
    """Two creates and a task that only reads: one batch call with the two creates, each gets its own event."""
    inner = _Calendar()
    collector, calendar = _collector(inner, 3)
    got: dict[str, Any] = {}

    async def create(name: str) -> None:
        got[name] = await calendar.create_event(MAILBOX, EventWrite(subject=name))

    async def only_reads() -> None:
        got["read"] = await calendar.get_event(MAILBOX, "x")

    await side_by_side([create("a"), only_reads(), create("b")], collector.writes)
    assert [[c.write.subject for c in batch if c.write] for batch in inner.batches] == [["a", "b"]]
    assert (got["a"].subject, got["b"].subject, got["read"].id) == ("a", "b", "id-x")


async def test_a_refused_item_fails_its_own_task_only_and_a_second_write_goes_alone() -> None:
    """A per-item error raises in its executor only; a write asked after the batch went out is sent on its own."""
    inner = _Calendar()
    collector, calendar = _collector(inner, 2)
    outcome: dict[str, Any] = {}

    async def refused() -> None:
        try:
            await calendar.create_event(MAILBOX, EventWrite(subject="bad one"))
        except GraphInvalid as error:
            outcome["refused"] = error

    async def two_writes() -> None:
        await calendar.create_event(MAILBOX, EventWrite(subject="first"))
        outcome["second"] = await calendar.create_event(MAILBOX, EventWrite(subject="second"))

    await side_by_side([refused(), two_writes()], collector.writes)
    assert isinstance(outcome["refused"], GraphInvalid)
    assert len(inner.batches) == 1
    assert inner.singles == ["second"]


async def test_a_failed_batch_reaches_every_writer_and_is_raised_once_all_have_ended() -> None:
    """The batch as a whole fails (e.g. 503 after the SDK's retries): every writer sees the error and the group
    raises it after all executors ended (so the ones that got through could store their links)."""
    inner = _Calendar(fail_whole=True)
    collector, calendar = _collector(inner, 3)
    ended: list[str] = []

    async def create(name: str) -> None:
        try:
            await calendar.create_event(MAILBOX, EventWrite(subject=name))
        finally:
            ended.append(name)

    with pytest.raises(GraphTransient):
        await side_by_side([create("a"), create("b"), create("c")], collector.writes)
    assert sorted(ended) == ["a", "b", "c"]
