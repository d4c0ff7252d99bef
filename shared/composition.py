"""The composition root: the one place that turns settings into adapters and wires the engine.

Handlers ask ``services()`` for the process-wide ``Services``; tests and the demo build their own
with ``build_services`` (optionally with in-process HTTP transports for the emulators).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from azure.core.credentials_async import AsyncTokenCredential

from shared.erp.http_client import HttpErp
from shared.erp.port import ErpPort
from shared.graph.auth import graph_credential
from shared.graph.client import GraphCalendar
from shared.graph.port import CalendarPort
from shared.queueing import StorageWorkQueue, WorkQueue
from shared.settings import Settings, load_settings
from shared.state.port import StateStore
from shared.state.tables import TableStateStore
from shared.sync.engine import SyncEngine


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    state: StateStore
    calendar: CalendarPort
    erp: ErpPort
    queue: WorkQueue
    engine: SyncEngine
    clock: Callable[[], datetime]
    _closers: tuple[Callable[[], object], ...] = ()

    async def aclose(self) -> None:
        for close in self._closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result


def _storage_credential(settings: Settings) -> AsyncTokenCredential:
    from azure.identity.aio import ManagedIdentityCredential  # only in Azure

    return ManagedIdentityCredential(client_id=settings.storage_client_id)


async def build_services(
    settings: Settings,
    *,
    graph_transport: httpx.AsyncBaseTransport | None = None,
    erp_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    closers: list[Callable[[], object]] = []
    if settings.storage_connection_string is not None:
        conn = settings.storage_connection_string.get_secret_value()
        table_store = TableStateStore.from_connection_string(conn, prefix=settings.state_table_prefix)
        queue = StorageWorkQueue.from_connection_string(conn)
    else:
        credential = _storage_credential(settings)
        table_store = TableStateStore.from_account(
            settings.storage_service_url("table"), credential, prefix=settings.state_table_prefix
        )
        queue = StorageWorkQueue.from_account(settings.storage_service_url("queue"), credential)
        closers.append(credential.close)
    await table_store.ensure_tables()
    calendar = GraphCalendar(
        credential=graph_credential(settings, transport=graph_transport),
        base_url=settings.graph_base_url,
        transport=graph_transport,
    )
    erp = HttpErp(
        settings.erp_base_url,
        api_key=settings.erp_api_key.get_secret_value(),
        timeout=settings.erp_timeout_seconds,
        transport=erp_transport,
    )
    engine = SyncEngine(
        calendar=calendar,
        erp=erp,
        state=table_store,
        policy=settings.policy,
        clock=clock,
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
    )
    closers[:0] = [table_store.aclose, queue.aclose, calendar.aclose, erp.aclose]
    return Services(
        settings=settings,
        state=table_store,
        calendar=calendar,
        erp=erp,
        queue=queue,
        engine=engine,
        clock=clock,
        _closers=tuple(closers),
    )


# One build per event loop, shared by every caller: the first call starts it and concurrent first
# callers (a cold start with a queue batch of 8) await the same task instead of building their own.
_by_loop: dict[int, asyncio.Task[Services]] = {}


async def close_services() -> None:
    """Close every cached ``Services`` (the demo and tests call this before their event loop ends)."""
    while _by_loop:
        _, build = _by_loop.popitem()
        if not build.done():
            if build.get_loop() is not asyncio.get_running_loop():
                continue  # still building on another loop, which cannot be awaited from this one
            await asyncio.wait([build])
        if not _failed(build):
            await build.result().aclose()


def _failed(build: asyncio.Task[Services]) -> bool:
    return build.done() and (build.cancelled() or build.exception() is not None)


def _forget_failure(key: int, build: asyncio.Task[Services]) -> None:
    """A failed or cancelled build is not cached: the next call builds again."""
    if _failed(build) and _by_loop.get(key) is build:
        del _by_loop[key]


async def _build_from_app_settings() -> Services:
    return await build_services(load_settings())


async def services() -> Services:
    """The process's services for the running event loop, built once, on first use, from app settings.

    Concurrent first callers share one build; if it fails, each of them sees the error and the next
    call tries again.
    """
    loop = asyncio.get_running_loop()
    key = id(loop)
    build = _by_loop.get(key)
    if build is None or _failed(build):
        build = loop.create_task(_build_from_app_settings(), name="build services")
        _by_loop[key] = build
        build.add_done_callback(functools.partial(_forget_failure, key))
    # shield: a caller that is cancelled (say, a function timing out) leaves the build to the others.
    return await asyncio.shield(build)
