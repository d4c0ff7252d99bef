"""The change hook: after each write the ERP tells the sync service which records changed.

Calls run as background tasks so a slow or absent receiver never delays the write that caused them,
and are retried a few times with backoff (the receiver's timer-driven delta run repairs anything that
is still lost, R32). Each delivery gets a fresh random delivery id (``X-Erp-Delivery``), which its
retries keep: the receiver accepts an id once, so a retry of a delivery that already got through is
refused with 401, which ends it (its sync was queued by the first attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import httpx
import stamina

from shared.erp.hook import HookChange, HookPayload, sign_hook

log = logging.getLogger(__name__)


class HookRefused(Exception):
    """The receiver answered with a status worth retrying (5xx, 429)."""


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, HookRefused | httpx.TransportError)


class HookSender:
    """Signs and posts change-hook calls in the background; ``aclose`` waits briefly for those in flight."""

    def __init__(self, *, url: str, secret: str, client: httpx.AsyncClient, attempts: int = 4) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self.attempts = attempts
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self.failed = 0

    def notify(self, *changes: HookChange) -> None:
        if not changes:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(HookPayload(changes=changes)))
        # Keep a reference: the loop holds tasks weakly.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, payload: HookPayload) -> None:
        body = payload.model_dump_json(by_alias=True).encode()
        delivery_id = str(uuid.uuid4())  # one per delivery, kept by its retries
        try:
            async for attempt in stamina.retry_context(
                on=_retryable, attempts=self.attempts, wait_initial=0.2, wait_max=2.0, wait_jitter=0.1, timeout=15.0
            ):
                with attempt:
                    # A fresh timestamp per attempt, so a late retry is still inside the receiver's window.
                    headers = sign_hook(body, secret=self._secret, timestamp=int(time.time()), delivery_id=delivery_id)
                    response = await self._client.post(self._url, content=body, headers=headers)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise HookRefused(f"hook answered {response.status_code}")
                    if response.status_code >= 400:
                        log.warning("change hook refused with %s; not retried", response.status_code)
                        self.failed += 1
                        return
            self.delivered += 1
        except (HookRefused, httpx.HTTPError) as exc:
            self.failed += 1
            log.warning("change hook not delivered: %s", type(exc).__name__)

    async def drain(self, *, within: float = 5.0) -> None:
        """Wait for calls in flight (tests and shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)

    async def aclose(self) -> None:
        await self.drain(within=2.0)
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
