"""Group commit of the webhook's notifications (issue 12, item 7): POSTs answered at the same moment share
their queue messages.

Every POST's notifications must be on the queue before it is answered (Graph does not send them again after a
202). When many POSTs arrive together, one queue send each is what their answers wait on, one after the other
in this process. Here a POST hands its notes over and waits for them to be sent; one sender per queue takes
whatever notes are waiting, up to ``NOTES_PER_MESSAGE`` to a message, sends them, and answers every POST
whose notes went in (or hands it the send's failure: that POST is answered 500 and Graph retries it). A lone
POST costs what it did: one send.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence

from shared.queueing import NotedChange, NotificationBatch, WorkQueue

# Notes per queue message: a message holds 64 KiB (48 KiB of it once base64), a note at most about 4 KiB.
NOTES_PER_MESSAGE = 10


class NoteSender:
    """The notes waiting for the queue, and the one task sending them."""

    def __init__(self, queue: WorkQueue) -> None:
        self._queue = queue
        self._waiting: list[tuple[NotedChange, str | None, asyncio.Future[None]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def send(self, notes: Sequence[NotedChange], correlation_id: str | None) -> None:
        """Return once every one of ``notes`` is on the queue; raise what the send that carried them raised."""
        loop = asyncio.get_running_loop()
        done = [loop.create_future() for _ in notes]
        self._waiting += [(note, correlation_id, future) for note, future in zip(notes, done, strict=True)]
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_waiting())
        for outcome in await asyncio.gather(*done, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _send_waiting(self) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting[:NOTES_PER_MESSAGE], self._waiting[NOTES_PER_MESSAGE:]
            message = NotificationBatch(notes=tuple(note for note, _, _ in taken), correlation_id=taken[0][1])
            try:
                await self._queue.enqueue(message)
            except BaseException as error:  # the POSTs of these notes fail (500): Graph sends them again
                for _, _, future in taken:
                    future.set_exception(error)
                if isinstance(error, asyncio.CancelledError):  # the process stops: nobody waits for ever
                    for _, _, future in self._waiting:
                        future.set_exception(error)
                    self._waiting = []
                    raise
                continue
            for _, _, future in taken:
                future.set_result(None)


_KEPT = 16  # senders kept: one per queue object a process uses (tests make many)
_SENDERS: OrderedDict[int, tuple[WorkQueue, NoteSender]] = OrderedDict()


def sender_for(queue: WorkQueue) -> NoteSender:
    """The one sender of this queue object in this process."""
    key = id(queue)
    found = _SENDERS.get(key)
    if found is None or found[0] is not queue:
        found = _SENDERS[key] = (queue, NoteSender(queue))
    _SENDERS.move_to_end(key)
    while len(_SENDERS) > _KEPT:
        _SENDERS.popitem(last=False)
    return found[1]
