"""A run under a short per-user lease kept alive by a heartbeat (one run per user, quick recovery after a crash).

The lease is short (``engine.LEASE_SECONDS``) so that a worker that dies leaves its user blocked for at most
that long; while the run is alive a heartbeat renews it every ``renew_every`` seconds. A renewal that finds the
lease lost (released, or expired and taken over by another worker, which the store sees by its ETag) cancels
the run: it stops at its next ``await``, before any further write is sent. A write already in flight when the
cancellation lands may still be applied, exactly as when a worker dies mid-write; links and meeting claims make
that harmless on the next run (R10). A renewal that fails (storage unreachable) is tried again at the next beat;
when the lease would end before the next beat the run is cancelled as well, since another worker may take the
user over from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from shared.state.model import Lease
from shared.state.port import LeaseStore

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The run's lease went to another worker (or could not be renewed in time): the run was cancelled."""


async def run_under_lease(
    state: LeaseStore,
    lease: Lease,
    work: Coroutine[Any, Any, None],
    *,
    clock: Callable[[], datetime],
    ttl_seconds: float,
    renew_every: float,
) -> None:
    """Run ``work`` while renewing ``lease``; release the lease at the end (whatever happened).

    Raises ``LeaseLost`` when the lease was lost and ``work`` cancelled; re-raises what ``work`` raised.
    """
    held = [lease]
    run = asyncio.ensure_future(work)
    beat = asyncio.ensure_future(_heartbeat(state, held, clock, ttl_seconds, renew_every))
    try:
        await asyncio.wait({run, beat}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():  # the heartbeat ended first: the lease is lost
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            raise LeaseLost(f"the lease of user {lease.user_id} was lost; the run stopped")
        run.result()
    finally:
        for task in (run, beat):
            task.cancel()
        await asyncio.gather(run, beat, return_exceptions=True)
        try:
            await state.release_lease(held[0])  # a lease another worker holds now is left alone (ETag)
        except Exception as error:  # it ends by itself within the lease time; the run's outcome matters more
            log.warning("could not release the lease of user %.80r (%s)", lease.user_id, type(error).__name__)


async def _heartbeat(
    state: LeaseStore, held: list[Lease], clock: Callable[[], datetime], ttl_seconds: float, renew_every: float
) -> None:
    """Renew ``held[0]`` every ``renew_every`` seconds; returns only when the lease is lost."""
    while True:
        await asyncio.sleep(renew_every)
        current = held[0]
        try:
            renewed = await state.renew_lease(current, now=clock(), ttl_seconds=ttl_seconds)
        except Exception as error:  # storage hiccup: the lease is still ours until it ends
            log.warning("could not renew the lease of user %.80r (%s)", current.user_id, type(error).__name__)
            if clock() + timedelta(seconds=renew_every) >= current.expires_at:
                return
            continue
        if renewed is None:
            log.warning("the lease of user %.80r was taken over; stopping the run", current.user_id)
            return
        held[0] = renewed
