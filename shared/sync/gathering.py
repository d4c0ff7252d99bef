"""Requests of tasks running side by side, sent together: the mechanism under a group's ``$batch`` of event
writes and its one Table transaction of new links (issue 12).

A ``Gathering`` knows how many tasks run in its group. Each task either asks once (its request waits) or ends
without asking; when every task has done one or the other, the requests go out in ONE ``send`` and each task
gets its own answer. A task's second request, and any request made while the gathering is not ``opened`` yet,
passes by: the caller sends it alone. Waiting only on tasks that are still undecided is what keeps a group
from waiting on itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")
T = TypeVar("T")


def _always() -> bool:
    return True


class Gathering(Generic[Q, R]):
    """The requests of ``tasks`` tasks, sent together by ``send`` (one answer per request, in order)."""

    def __init__(
        self,
        tasks: int,
        send: Callable[[list[Q]], Awaitable[Sequence[R]]],
        *,
        opened: Callable[[], bool] = _always,
    ) -> None:
        self._send = send
        self._opened = opened
        self._undecided = tasks  # tasks that neither asked nor ended
        self._asked: set[asyncio.Task[Any]] = set()
        self._pending: list[tuple[Q, asyncio.Future[R]]] = []
        self.sent = False

    async def run(self, work: Awaitable[T]) -> T:
        """One task of the group; when it ends without asking, the others stop waiting for it."""
        try:
            return await work
        finally:
            task = asyncio.current_task()
            if task is not None and task not in self._asked and not self.sent:
                self._undecided -= 1
                await self._send_when_all_asked()

    def collecting(self) -> bool:
        """Whether the current task's request joins the group (else the caller sends it alone)."""
        task = asyncio.current_task()
        return not self.sent and self._opened() and task is not None and task not in self._asked

    async def ask(self, request: Q) -> R:
        """Join the group's send (only when ``collecting()``); the answer to this request, or its failure."""
        task = asyncio.current_task()
        assert task is not None
        self._asked.add(task)
        self._undecided -= 1
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        await self._send_when_all_asked()
        return await future

    async def _send_when_all_asked(self) -> None:
        if self.sent or self._undecided > 0 or not self._pending:
            return
        self.sent = True
        pending, self._pending = self._pending, []
        try:
            answers = await self._send([request for request, _ in pending])
        except BaseException as error:  # the send as a whole failed: every request of it did
            for _, future in pending:
                future.set_exception(error)
            return
        for (_, future), answer in zip(pending, answers, strict=True):
            future.set_result(answer)


async def side_by_side(works: Sequence[Awaitable[None]], *gatherings: Gathering[Any, Any]) -> None:
    """Run a group's tasks at once, each inside every gathering; when all have ended, raise the first failure
    any let through."""

    def wrapped(work: Awaitable[None]) -> Awaitable[None]:
        for gathering in gatherings:
            work = gathering.run(work)
        return work

    outcomes = await asyncio.gather(*(wrapped(w) for w in works), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
