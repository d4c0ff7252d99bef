"""``LocalFunctionsHost``: runs a Python v2 ``FunctionApp`` in-process for the demo and integration tests.

HTTP functions are served by uvicorn on loopback, queue functions are fed from Azure Storage queues
(Azurite), timer functions fire on demand, on their schedule, or through ``POST /admin/functions/{name}``.
While the host works, its settings are in ``os.environ`` (see ``app_settings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import azure.functions as func
import azure.functions.queue as func_queue
import azure.functions.timer as func_timer
import uvicorn
from starlette.applications import Starlette

from emulators.functions_host.app_settings import EnvironmentOverlay
from emulators.functions_host.catalog import (
    FunctionSpec,
    HttpTrigger,
    QueueTrigger,
    TimerTrigger,
    load_app,
    read_functions,
)
from emulators.functions_host.host_config import HostConfig
from emulators.functions_host.http_app import build_asgi_app
from emulators.functions_host.invoke import InvocationOutcome, invoke
from emulators.functions_host.queues import QueueProcessor, StorageQueues

log = logging.getLogger("emulators.functions_host")

_TRUE = {"true", "1"}


@dataclass(frozen=True, kw_only=True)
class Invocation:
    """One finished invocation, kept in ``LocalFunctionsHost.invocations`` for tests and the demo."""

    function_name: str
    trigger: str  # "http", "queue" or "timer"
    succeeded: bool
    error: str | None = None


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner (tests, or our CLI)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


FIRST_EMPTY_POLL_SECONDS = 0.2


def next_poll_delay(previous: float | None, *, cap: float, jitter: Callable[[], float] = random.random) -> float:
    """The wait before the next poll of an empty queue: 200 ms after messages were found, then about twice the
    previous wait (randomised by ±20 %), at most ``cap`` (the real host's randomised exponential back-off)."""
    if previous is None:
        return min(FIRST_EMPTY_POLL_SECONDS, cap)
    return min(cap, previous * 2 * (0.8 + 0.4 * jitter()))


class LocalFunctionsHost:
    """A small stand-in for the Functions host. Not thread-safe; use it from one event loop."""

    def __init__(
        self,
        app: func.FunctionApp | str,
        *,
        environ: Mapping[str, str] | None = None,
        host_json: Path | Mapping[str, Any] | HostConfig | None = None,
        app_dir: Path | None = None,
        poll_interval: float | None = 0.1,
    ) -> None:
        self._app_source = app
        self._app_dir = app_dir
        self.settings = EnvironmentOverlay(environ or {})
        self.config = HostConfig.load(host_json)
        # The longest wait between polls of an empty queue: host.json's maxPollingInterval, or less.
        longest = self.config.queues.max_polling_interval.total_seconds()
        self.poll_interval = longest if poll_interval is None else min(poll_interval, longest)
        self.invocations: list[Invocation] = []
        self._functions: list[FunctionSpec] | None = None
        self._storage: StorageQueues | None = None
        self._sessions = 0
        self._background: set[asyncio.Task[None]] = set()
        self._last_fired: dict[str, datetime] = {}
        self._timer_locks: dict[str, asyncio.Lock] = {}

    # --- what the host indexes -------------------------------------------------------------------

    @property
    def functions(self) -> list[FunctionSpec]:
        """Every indexed function; a ``"module:attr"`` app is imported on first use, with the settings applied."""
        if self._functions is None:
            with self.settings.applied():
                app = self._app_source
                if isinstance(app, str):
                    app = load_app(app, app_dir=self._app_dir)
                self._functions = read_functions(app)
            for function in self._functions:
                if function.unsupported_bindings:
                    log.warning(
                        "%s: bindings ignored by the local host: %s", function.name, function.unsupported_bindings
                    )
        return self._functions

    def function(self, name: str) -> FunctionSpec:
        """The function named ``name`` (case-insensitive, as in the real host)."""
        for function in self.functions:
            if function.name.lower() == name.lower():
                return function
        raise KeyError(f"no function named {name!r}")

    def is_disabled(self, function: FunctionSpec) -> bool:
        """``AzureWebJobs.<name>.Disabled`` set to true stops its triggers, as in Azure."""
        value = self.settings.lookup(f"AzureWebJobs.{function.name}.Disabled") or ""
        return value.strip().lower() in _TRUE

    def _enabled(self, trigger_type: type) -> list[FunctionSpec]:
        return [f for f in self.functions if isinstance(f.trigger, trigger_type) and not self.is_disabled(f)]

    # --- running functions -----------------------------------------------------------------------

    async def run_timer(self, name: str, *, past_due: bool = False) -> None:
        """Run timer function ``name`` now and wait for it; its exception, if any, propagates."""
        function = self.function(name)
        if not isinstance(function.trigger, TimerTrigger):
            raise TypeError(f"{function.name} is not timer-triggered")
        # One run of a timer function at a time, as the real host's singleton lock for timers ensures.
        lock = self._timer_locks.setdefault(function.name, asyncio.Lock())
        async with self._session(), lock:
            await self._execute(function, self._timer_request(function, past_due=past_due))

    async def run_function(self, name: str, input: str = "") -> None:
        """What ``POST /admin/functions/{name}`` does, awaited: a timer fires; a queue function gets ``input``
        as its message body (not base64-decoded, as a manual run passes the text itself)."""
        function = self.function(name)
        async with self._session():
            if isinstance(function.trigger, TimerTrigger):
                await self.run_timer(function.name)
            elif isinstance(function.trigger, QueueTrigger):
                await self._execute(function, func_queue.QueueMessage(body=input.encode("utf-8"), dequeue_count=1))  # type: ignore[no-untyped-call]
            else:
                raise TypeError(f"{function.name} is HTTP-triggered: call its route")

    # A plain timeout argument is the API the tests and the demo asked for; it bounds the whole drain.
    async def drain_queues(self, *, timeout: float = 30.0, include_invisible: bool = True) -> None:  # noqa: ASYNC109
        """Process queue messages until every trigger queue is empty.

        With ``include_invisible`` (default) it also waits for messages that are hidden for a retry
        (``visibilityTimeout``) or were sent with a delay. Raises TimeoutError after ``timeout`` seconds.
        """
        async with self._session():
            deadline = time.monotonic() + timeout
            processor = self._queue_processor()
            functions = self._enabled(QueueTrigger)
            while True:
                received = 0
                for function in functions:
                    received += await processor.process_batch(function)
                if received == 0:
                    if not include_invisible:
                        return
                    pending = [await processor.pending(function) for function in functions]
                    if not any(pending):
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"queues not empty after {timeout} s")
                if received == 0:
                    await asyncio.sleep(self.poll_interval)

    async def wait_for_admin_runs(self) -> None:
        """Wait until every run started by ``POST /admin/functions/{name}`` has finished."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # --- serving ---------------------------------------------------------------------------------

    def asgi_app(self) -> Starlette:
        """The HTTP side alone (functions and admin endpoints), e.g. for ``httpx.ASGITransport``."""
        return build_asgi_app(
            route_prefix=self.config.route_prefix,
            http_functions=self._enabled(HttpTrigger),
            execute=self._execute,
            find_function=self._find,
            start_admin_run=self._start_admin_run,
        )

    @contextlib.asynccontextmanager
    async def serving(
        self,
        *,
        port: int = 0,
        bind: str = "127.0.0.1",
        poll_queues: bool = False,
        run_schedules: bool = False,
    ) -> AsyncIterator[str]:
        """Serve HTTP on ``bind:port`` (0: a free port) and yield the base URL, e.g. ``http://127.0.0.1:5123``.

        ``poll_queues`` feeds queue functions continuously; ``run_schedules`` fires timers on their
        schedule (and ``runOnStartup`` ones at once). Leaving the block stops everything and waits for
        admin runs to finish.
        """
        async with self._session():
            app = self.asgi_app()  # indexes the functions first: an app that fails to load fails here
            listener = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((bind, port))
            except OSError:
                listener.close()
                raise
            config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=5)
            server = _QuietServer(config)
            serve_task = asyncio.create_task(server.serve(sockets=[listener]))
            workers: list[asyncio.Task[None]] = []
            try:
                while not server.started:
                    if serve_task.done():
                        serve_task.result()
                        raise RuntimeError("the HTTP server stopped during startup")
                    await asyncio.sleep(0.01)
                if poll_queues:
                    workers += [asyncio.create_task(self._poll(f)) for f in self._enabled(QueueTrigger)]
                if run_schedules:
                    workers += [
                        asyncio.create_task(self._schedule(function)) for function in self._enabled(TimerTrigger)
                    ]
                host, bound_port = listener.getsockname()[:2]
                yield f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                server.should_exit = True
                await serve_task
                listener.close()
                await self.wait_for_admin_runs()

    # --- internals -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[None]:
        """Settings applied and storage clients open while any public operation runs (re-entrant)."""
        with self.settings.applied():
            self._sessions += 1
            try:
                yield
            finally:
                self._sessions -= 1
                if self._sessions == 0 and self._storage is not None:
                    storage, self._storage = self._storage, None
                    await storage.aclose()

    def _queue_processor(self) -> QueueProcessor:
        if self._storage is None:
            self._storage = StorageQueues(self.settings)
        return QueueProcessor(queues=self._storage, options=self.config.queues, run=self._execute)

    def _find(self, name: str) -> FunctionSpec | None:
        try:
            return self.function(name)
        except KeyError:
            return None

    async def _execute(self, function: FunctionSpec, trigger_value: Any) -> InvocationOutcome:
        """Invoke, then send queue outputs; record the outcome. Exceptions propagate to the trigger's logic."""
        trigger = {HttpTrigger: "http", QueueTrigger: "queue", TimerTrigger: "timer"}[type(function.trigger)]
        try:
            outcome = await invoke(function, trigger_value)
            if function.queue_outputs:
                await self._queue_processor().send_outputs(function, outcome)
        except Exception as error:
            self.invocations.append(
                Invocation(function_name=function.name, trigger=trigger, succeeded=False, error=repr(error))
            )
            raise
        self.invocations.append(Invocation(function_name=function.name, trigger=trigger, succeeded=True))
        return outcome

    def _start_admin_run(self, function: FunctionSpec, payload: str) -> None:
        task = asyncio.create_task(self._admin_run(function, payload))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _admin_run(self, function: FunctionSpec, payload: str) -> None:
        try:
            await self.run_function(function.name, payload)
        except Exception:
            log.exception("admin run of %s failed", function.name)

    def _time_zone(self) -> tzinfo:
        # WEBSITE_TIME_ZONE changes the zone of NCRONTAB schedules (UTC by default), as on Linux plans.
        name = self.settings.lookup("WEBSITE_TIME_ZONE")
        return ZoneInfo(name) if name else UTC

    def _timer_request(self, function: FunctionSpec, *, past_due: bool) -> func_timer.TimerRequest:
        trigger = _timer_trigger(function)
        now = datetime.now(self._time_zone())
        last = self._last_fired.get(function.name, now)
        self._last_fired[function.name] = now
        status = {
            "Last": last.isoformat(),
            "Next": trigger.schedule.next_after(now).isoformat(),
            "LastUpdated": now.isoformat(),
        }
        return func_timer.TimerRequest(past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True})

    async def _poll(self, function: FunctionSpec) -> None:
        """Poll like the real host: again at once after messages, then waits growing from 200 ms up to
        ``maxPollingInterval`` (page "Azure Queue storage trigger", polling algorithm:
        https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#polling-algorithm),
        never longer than ``poll_interval``."""
        processor = self._queue_processor()
        delay: float | None = None
        while True:
            try:
                received = await processor.process_batch(function)
            except Exception:
                log.exception("polling the queue of %s failed", function.name)
                received = 0
            if received == 0:
                delay = next_poll_delay(delay, cap=self.poll_interval)
                await asyncio.sleep(delay)
            else:
                delay = None

    async def _schedule(self, function: FunctionSpec) -> None:
        trigger = _timer_trigger(function)
        if trigger.run_on_startup:
            await self._fire(function)
        due = trigger.schedule.next_after(datetime.now(self._time_zone()))
        while True:
            delay = (due - datetime.now(self._time_zone())).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)  # may wake a little early: check again
                continue
            await self._fire(function)
            # Occurrences do not overlap: the next one is computed after this run ends, as in the real host.
            due = trigger.schedule.next_after(max(datetime.now(self._time_zone()), due))

    async def _fire(self, function: FunctionSpec) -> None:
        try:
            await self.run_timer(function.name)
        except Exception:
            log.exception("timer function %s failed", function.name)


def _timer_trigger(function: FunctionSpec) -> TimerTrigger:
    if not isinstance(function.trigger, TimerTrigger):
        raise TypeError(f"{function.name} is not timer-triggered")
    return function.trigger
