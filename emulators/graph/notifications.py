"""Asynchronous delivery of change and lifecycle notifications (page "Receive change notifications through webhooks").

A change never waits for delivery: it queues a notification per matching subscription, and one worker per
receiver URL POSTs what has piled up (several notifications per POST), retrying failures with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from emulators.graph import ids
from emulators.graph.config import EmulatorConfig
from emulators.graph.model import Subscription
from emulators.graph.timezones import format_utc_stamp

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class DeliveryAttempt:
    url: str
    status: int | None
    count: int
    attempt: int
    at: datetime
    error: str | None = None


@dataclass(kw_only=True)
class _Queue:
    items: list[dict[str, Any]] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None


def change_notification(
    sub: Subscription, *, tenant_id: str, event_id: str, change_type: str, change_key: str | None
) -> dict[str, Any]:
    """One change notification; no event content, as Graph sends without resource data."""
    user_id = sub.mailbox_id
    resource = f"Users/{user_id}/Events/{event_id}"
    data: dict[str, Any] = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource, "id": event_id}
    if change_key:
        data["@odata.etag"] = f'W/"{change_key}"'
    return {
        "id": None,
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_utc_stamp(sub.expiration),
        "clientState": sub.client_state,
        "changeType": change_type,
        "resource": resource,
        "tenantId": tenant_id,
        "resourceData": data,
    }


def lifecycle_notification(sub: Subscription, *, tenant_id: str, lifecycle_event: str) -> dict[str, Any]:
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_utc_stamp(sub.expiration),
        "tenantId": tenant_id,
        "clientState": sub.client_state,
        "lifecycleEvent": lifecycle_event,
    }


class Notifier:
    """Queues per receiver URL, drained by background tasks that never block the request making a change."""

    def __init__(self, *, outbound: httpx.AsyncClient, config: Callable[[], EmulatorConfig]) -> None:
        self._outbound = outbound
        self._config = config
        self._queues: dict[str, _Queue] = defaultdict(_Queue)
        self.attempts: list[DeliveryAttempt] = []
        self.dropped: list[dict[str, Any]] = []

    def enqueue(self, url: str, notification: dict[str, Any]) -> None:
        queue = self._queues[url]
        queue.items.append(notification)
        self._kick(url, queue)

    def _kick(self, url: str, queue: _Queue) -> None:
        if queue.worker is not None and not queue.worker.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # No loop (seeding from synchronous code): the next change or drain starts the worker.
        queue.worker = loop.create_task(self._work(url, queue))

    async def _work(self, url: str, queue: _Queue) -> None:
        cfg = self._config()
        await asyncio.sleep(cfg.notification_delay_ms / 1000)
        while queue.items:
            cfg = self._config()
            batch = queue.items[: cfg.max_notifications_per_post]
            del queue.items[: len(batch)]
            if not await self._deliver(url, batch, cfg):
                self.dropped.extend(batch)

    async def _deliver(self, url: str, batch: list[dict[str, Any]], cfg: EmulatorConfig) -> bool:
        for n in batch:
            if "id" in n and n["id"] is None:
                n["id"] = ids.new_guid()
        delays = (0.0, *cfg.retry_delays_seconds)
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay * cfg.retry_scale)
            status: int | None = None
            error: str | None = None
            try:
                resp = await self._outbound.post(url, json={"value": batch}, timeout=cfg.delivery_timeout_seconds)
                status = resp.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.attempts.append(
                DeliveryAttempt(url=url, status=status, count=len(batch), attempt=attempt, at=_now(), error=error)
            )
            if status is not None and 200 <= status < 300:
                return True
            log.info("notification POST to %s failed (%s), attempt %d", url, status or error, attempt)
        return False

    def pending(self) -> int:
        return sum(len(q.items) for q in self._queues.values()) + sum(
            1 for q in self._queues.values() if q.worker is not None and not q.worker.done()
        )

    async def drain(self, wait_seconds: float) -> bool:
        """Wait until every queued notification was delivered or dropped; ``False`` on timeout."""
        for url, queue in self._queues.items():
            if queue.items:
                self._kick(url, queue)
        workers = [q.worker for q in self._queues.values() if q.worker is not None and not q.worker.done()]
        if not workers:
            return True
        _done, still = await asyncio.wait(workers, timeout=wait_seconds)
        return not still

    async def close(self) -> None:
        for queue in self._queues.values():
            if queue.worker is not None and not queue.worker.done():
                queue.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await queue.worker
        self._queues.clear()

    def clear(self) -> None:
        for queue in self._queues.values():
            if queue.worker is not None and not queue.worker.done():
                queue.worker.cancel()
        self._queues.clear()
        self.attempts.clear()
        self.dropped.clear()


def _now() -> datetime:
    from emulators.graph.events import now

    return now()
