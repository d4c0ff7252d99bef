"""Consecutive event writes of a plan, side by side, their Graph writes in one ``$batch`` (issue 12, item 2).

The executors stay as they are (one action, one write, then the link it leaves): up to 20 of them run at
once on a ``CollectingCalendar``, whose ``create_event``/``update_event``/``delete_event`` wait until every
one of the group has either asked for its write or finished without one, and then go to Graph together as
one ``CalendarPort.write_events`` call. Each executor then stores its own result's link, so a crash between
the batch and the links leaves events that carry our stamp and ``transactionId``: the next run relinks them
(R10) rather than creating them again. Reads pass straight through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from shared.core.m365 import EventWrite, M365Event
from shared.graph.port import CalendarPort, EventChange, EventChangeResult

T = TypeVar("T")
GROUP = 20  # writes per Graph JSON batch


class CollectingCalendar:
    """The calendar port for a group of ``tasks`` executors running side by side (see the module)."""

    def __init__(self, inner: CalendarPort, mailbox: str, tasks: int) -> None:
        self._inner = inner
        self._mailbox = mailbox
        self._undecided = tasks  # tasks that neither asked for a write nor finished
        self._asked: set[asyncio.Task[Any]] = set()
        self._pending: list[tuple[EventChange, asyncio.Future[EventChangeResult]]] = []
        self._sent = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def run(self, work: Awaitable[T]) -> T:
        """One executor of the group; when it ends without a write, the others stop waiting for it."""
        try:
            return await work
        finally:
            task = asyncio.current_task()
            if task is not None and task not in self._asked and not self._sent:
                self._undecided -= 1
                await self._send_when_all_asked()

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event:
        if not self._collecting(mailbox):
            return await self._inner.create_event(mailbox, write)
        return _event(await self._ask(EventChange(kind="create", write=write)))

    async def update_event(self, mailbox: str, event_id: str, write: EventWrite) -> M365Event:
        if not self._collecting(mailbox):
            return await self._inner.update_event(mailbox, event_id, write)
        return _event(await self._ask(EventChange(kind="update", event_id=event_id, write=write)))

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        if not self._collecting(mailbox):
            await self._inner.delete_event(mailbox, event_id)
            return
        result = await self._ask(EventChange(kind="delete", event_id=event_id))
        if result.error is not None:
            raise result.error

    def _collecting(self, mailbox: str) -> bool:
        task = asyncio.current_task()
        return not self._sent and mailbox == self._mailbox and task is not None and task not in self._asked

    async def _ask(self, change: EventChange) -> EventChangeResult:
        task = asyncio.current_task()
        assert task is not None
        self._asked.add(task)
        self._undecided -= 1
        future: asyncio.Future[EventChangeResult] = asyncio.get_running_loop().create_future()
        self._pending.append((change, future))
        await self._send_when_all_asked()
        return await future

    async def _send_when_all_asked(self) -> None:
        if self._sent or self._undecided > 0 or not self._pending:
            return
        self._sent = True
        pending, self._pending = self._pending, []
        try:
            results = await self._inner.write_events(self._mailbox, [change for change, _ in pending])
        except BaseException as error:  # the batch as a whole failed: every write of it did
            for _, future in pending:
                future.set_exception(error)
            return
        for (_, future), result in zip(pending, results, strict=True):
            future.set_result(result)


def _event(result: EventChangeResult) -> M365Event:
    if result.error is not None:
        raise result.error
    if result.event is None:
        raise ValueError("a create or update answered no event")
    return result.event


async def side_by_side(works: Sequence[Awaitable[None]], collector: CollectingCalendar) -> None:
    """Run a group's executors at once; when all have ended, raise the first failure any let through."""
    outcomes = await asyncio.gather(*(collector.run(w) for w in works), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
