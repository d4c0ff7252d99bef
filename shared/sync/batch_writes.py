"""Consecutive event writes of a plan, side by side, their Graph writes in one ``$batch`` (issue 12, item 2).

The executors stay as they are (one action, one write, then the link it leaves): up to 20 of them run at
once on a ``CollectingCalendar``, whose ``create_event``/``update_event``/``delete_event`` wait until every
one of the group has either asked for its write or finished without one, and then go to Graph together as
one ``CalendarPort.write_events`` call (``shared/sync/gathering.py``). The new links the executors then save go
to Table Storage together as well (``RunContext.save``). Between the two, the events the batch made for ERP
activities are noted in one write (``RunContext.note_made``), so a crash between the batch and the links
leaves events that carry our stamp and ``transactionId`` and a note naming them: the next run relinks them
(R10), or takes a person's deletion of one meanwhile as a deletion (R8), rather than creating them again.
Reads pass straight through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from shared.core.m365 import EventWrite, M365Event
from shared.graph.port import CalendarPort, EventChange, EventChangeResult
from shared.sync.gathering import Gathering

GROUP = 20  # writes per Graph JSON batch


class CollectingCalendar:
    """The calendar port for a group of ``tasks`` executors running side by side (see the module)."""

    def __init__(
        self,
        inner: CalendarPort,
        mailbox: str,
        tasks: int,
        *,
        made: Callable[[Mapping[str, str]], Awaitable[None]] | None = None,
    ) -> None:
        self._inner = inner
        self._mailbox = mailbox
        self._made = made
        self.writes: Gathering[EventChange, EventChangeResult] = Gathering(tasks, self._send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _send(self, changes: list[EventChange]) -> Sequence[EventChangeResult]:
        results = await self._inner.write_events(self._mailbox, changes)
        made = {
            change.write.erp_stamp: result.event.id
            for change, result in zip(changes, results, strict=True)
            if change.kind == "create" and change.write is not None and change.write.erp_stamp and result.event
        }
        if made and self._made is not None:  # R10/R8: noted for the whole batch before any link is saved
            await self._made(made)
        return results

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event:
        if not self._collecting(mailbox):
            return await self._inner.create_event(mailbox, write)
        return _event(await self.writes.ask(EventChange(kind="create", write=write)))

    async def update_event(self, mailbox: str, event_id: str, write: EventWrite) -> M365Event:
        if not self._collecting(mailbox):
            return await self._inner.update_event(mailbox, event_id, write)
        return _event(await self.writes.ask(EventChange(kind="update", event_id=event_id, write=write)))

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        if not self._collecting(mailbox):
            await self._inner.delete_event(mailbox, event_id)
            return
        result = await self.writes.ask(EventChange(kind="delete", event_id=event_id))
        if result.error is not None:
            raise result.error

    def _collecting(self, mailbox: str) -> bool:
        return mailbox == self._mailbox and self.writes.collecting()


def _event(result: EventChangeResult) -> M365Event:
    if result.error is not None:
        raise result.error
    if result.event is None:
        raise ValueError("a create or update answered no event")
    return result.event
