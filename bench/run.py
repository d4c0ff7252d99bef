"""One user's sync under load: initial sync, re-syncs with nothing new, and an incremental sync.

``python -m bench.run [--sizes 10,100,500] [--memory rss|tracemalloc|off] [--profile] [--no-write]``;
``make bench`` runs it with Azurite started around it. See ``bench/README.md`` for what each number means.

The whole service runs in this process, as in ``tests/sync/conftest.py``: msgraph-sdk against the Graph
emulator and ``HttpErp`` against the reference ERP over in-process ASGI transports, state in Azurite
over real HTTP. Only the sync runs are measured; seeding and edits go straight into the emulators' stores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import os
import platform
import pstats
import resource
import shlex
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.data.tables.aio._base_client_async import AsyncTransportWrapper
from kiota_http.httpx_request_adapter import HttpxRequestAdapter

from emulators.azurite import running_azurite
from emulators.erp.seed import seed_store
from emulators.stack import start_stack
from shared.composition import Services
from shared.core.activities import ActivityFields, ActivityPatch, ActivityType, Participant, ParticipantKind

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- bench:begin (written by python -m bench.run) -->", "<!-- bench:end -->"

MAILBOX = "ann@contoso.example"
USER = "U-ANN"
CONTACTS = 20
# Every fifth event has an external attendee and every fifth activity a contact, so the run also pays
# for its attendee/contact look-ups; the rest are plain.
WITH_PEOPLE_EVERY = 5
CHANGED_SHARE = 10  # the incremental run follows an edit of one item in this many, on each side
WARM_UP_SIZE = 3
PROFILE_SIZE = 100  # the largest N profiled with --profile (about 15 s under cProfile)
PROFILE_LINES = 20
MEMORY_MODES = {
    "rss": "growth of the resident set size during each run, sampled every 5 ms",
    "tracemalloc": "Python heap peak above its start (tracemalloc; times are inflated a lot)",
    "off": "not measured",
}


# --- counting ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Requests seen on one wire during one run: by kind, with their status codes and time spent inside.

    ``seconds`` is the time at least one request was under way (requests side by side, as a group of batched
    writes makes them, count once), so the split of a run's wall time never adds up past it."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    _inflight: int = 0
    _since: float = 0.0

    def begin(self) -> None:
        if self._inflight == 0:
            self._since = time.perf_counter()
        self._inflight += 1

    def record(self, kind: str, status: int) -> None:
        """One request ended (after ``begin``)."""
        self._inflight -= 1
        if self._inflight == 0:
            self.seconds += time.perf_counter() - self._since
        self.counts[kind] += 1
        if status >= 400:
            self.errors[f"{kind} -> {status}"] += 1

    def clear(self) -> None:
        self.counts.clear()
        self.errors.clear()
        self.seconds = 0.0


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: counts each request by kind and adds up the time until its answer is in."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tally: Tally, kind: Callable[[str, str], str]) -> None:
        self._inner, self._tally, self._kind = inner, tally, kind

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._tally.begin()
        status = 599
        try:
            response = await self._inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            self._tally.record(self._kind(request.method, request.url.path), status)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _templated(path: str, id_after: frozenset[str], literals: frozenset[str] = frozenset()) -> str:
    """A path with ids replaced by ``{id}``: the segment after one of ``id_after`` unless it is a literal."""
    out: list[str] = []
    previous = ""
    for part in (p for p in path.split("/") if p):
        out.append("{id}" if previous in id_after and part not in literals else part)
        previous = part
    return "/" + "/".join(out)


def graph_kind(method: str, path: str) -> str:
    if path.endswith("/oauth2/v2.0/token"):
        return "POST token"
    if path.startswith("/api/v2.0/"):
        return f"{method} {{uploadUrl}}"  # an upload session's pre-authenticated URL (R18)
    path = path.removeprefix("/v1.0")
    id_after = frozenset({"users", "events", "subscriptions", "attachments"})
    templated = _templated(path, id_after, literals=frozenset({"createUploadSession"}))
    return f"{method} " + templated.replace("/users/{id}", "/users/{mailbox}")


def erp_kind(method: str, path: str) -> str:
    return f"{method} " + _templated(
        path,
        frozenset({"activities", "users", "leave-requests", "companies", "contacts", "facilities"}),
        literals=frozenset({"void", "close"}),
    )


def table_kind(method: str, path: str, prefix: str) -> str:
    """``GET Links entity``, ``GET Issues query``, ``POST Leases insert``, ``POST $batch``..."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last == "$batch":
        return "POST $batch"
    name, _, keys = last.partition("(")
    name = name.removeprefix(prefix)
    if keys.startswith("PartitionKey"):
        what = "entity"
    elif method == "GET":
        what = "query"
    else:
        what = "insert" if method == "POST" else "table"
    return f"{method} {name} {what}"


@contextlib.contextmanager
def counting_tables(tally: Tally, prefix: str) -> Iterator[None]:
    """Count Table Storage calls at the SDK's transport (every table client of this process goes through it)."""
    original: Callable[..., Any] = AsyncTransportWrapper.send

    async def send(self: AsyncTransportWrapper, request: Any, **kwargs: Any) -> Any:
        tally.begin()
        status = 599
        try:
            response = await original(self, request, **kwargs)
            status = int(response.status_code)
            return response
        finally:
            path = httpx.URL(request.url).path
            tally.record(table_kind(request.method, path, prefix), status)

    AsyncTransportWrapper.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        AsyncTransportWrapper.send = original  # type: ignore[method-assign]


@contextlib.contextmanager
def timing(owner: type, methods: Sequence[str], seconds: dict[str, float], bucket: str) -> Iterator[None]:
    """Add the time spent inside ``owner``'s async ``methods`` to ``seconds[bucket]`` (outermost calls only;
    calls side by side count once: the time at least one was under way)."""
    originals = {name: getattr(owner, name) for name in methods}
    depth = [0]
    since = [0.0]

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                since[0] = time.perf_counter()
            depth[0] += 1
            try:
                return await original(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    seconds[bucket] = seconds.get(bucket, 0.0) + time.perf_counter() - since[0]

        return wrapper

    for name, original in originals.items():
        setattr(owner, name, timed(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(owner, name, original)


GRAPH_SDK_CALLS = (
    "send_async",
    "send_collection_async",
    "send_primitive_async",
    "send_collection_of_primitive_async",
    "send_no_response_content_async",
)
TABLE_SDK_CALLS = ("submit_transaction", "get_entity", "create_entity", "update_entity", "delete_entity")


# --- the stack and its data --------------------------------------------------------------------------


@dataclass
class Stack:
    services: Services
    graph_app: Any
    erp_app: Any
    control: httpx.AsyncClient  # the Graph emulator's control API (not counted)
    graph: Tally
    erp: Tally
    tables: Tally
    prefix: str
    outlook_ids: list[str] = field(default_factory=list)  # events a person made in Outlook
    erp_ids: list[str] = field(default_factory=list)  # activities a person made in the ERP


async def runs_until_quiet(stack: Stack, user_id: str, max_runs: int) -> int:
    """The user's sync until a run writes nothing (that run included), its requests counted from zero; how many
    runs. Each run must end ``ok`` with no issue."""
    for tally in (stack.graph, stack.erp, stack.tables):
        tally.clear()
    runs = 0
    with counting_tables(stack.tables, stack.prefix):
        for runs in range(1, max_runs + 1):  # noqa: B007 - the count is returned
            report = await stack.services.engine.sync_user(user_id)
            assert report.status == "ok", report.summary()
            assert not report.issues, report.issues
            if not sum(report.done.values()):
                break
    return runs


@contextlib.asynccontextmanager
async def stack_on(conn: str) -> AsyncIterator[Stack]:
    """A fresh Graph emulator, reference ERP and set of tables; the tables are dropped afterwards."""
    graph, erp, tables = Tally(), Tally(), Tally()
    started = await start_stack(
        conn,
        prefix_stem="b",
        graph_wrap=lambda inner: CountingTransport(inner, graph, graph_kind),
        erp_wrap=lambda inner: CountingTransport(inner, erp, erp_kind),
        SYNC_INTERNAL_DOMAINS="contoso.example",
    )
    try:
        yield Stack(
            services=started.services,
            graph_app=started.graph_app,
            erp_app=started.erp_app,
            control=started.graph,
            graph=graph,
            erp=erp,
            tables=tables,
            prefix=started.prefix,
        )
    finally:
        names = started.services.state.table_names  # type: ignore[attr-defined]
        await started.aclose()
        async with TableServiceClient.from_connection_string(conn) as service:
            for name in names:
                await service.delete_table(name)


def _slot(index: int, base_hour: int) -> datetime:
    """Spread items over the next four weeks, inside the sync window (R4), at most ten a day per side."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    return today + timedelta(days=1 + index % 28, hours=base_hour + (index // 28) % 10)


def seed(stack: Stack, n: int) -> None:
    """One user with ``n`` Outlook events in the mailbox and ``n`` activities in the ERP."""
    contacts = [
        {"id": f"K-{c:02d}", "name": f"Contact {c}", "email": f"k{c:02d}@fabrikam.example", "companyId": "C-FAB"}
        for c in range(CONTACTS)
    ]
    seed_store(
        stack.erp_app.state.store,
        {
            "users": [
                {
                    "id": USER,
                    "displayName": "Ann",
                    "email": MAILBOX,
                    "enabled": True,
                    "defaultCompanyId": "C-OWN",
                    "defaultLocationId": "L-HQ",
                    "timeZone": "Europe/Oslo",
                }
            ],
            "companies": [
                {"id": "C-OWN", "name": "Contoso"},
                {"id": "C-FAB", "name": "Fabrikam", "email": "info@fabrikam.example"},
            ],
            "contacts": contacts,
        },
    )
    state = stack.graph_app.state.emulator.state
    user = state.add_user(mail=MAILBOX, display_name="Ann")
    for i in range(n):
        start = _slot(i, 7)
        body: dict[str, Any] = {
            "subject": f"Customer visit {i}",
            "body": {"contentType": "text", "content": f"Agenda for visit {i}"},
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
            "location": {"displayName": "HQ"},
        }
        if i % WITH_PEOPLE_EVERY == 0:
            contact = contacts[i % CONTACTS]
            body["attendees"] = [
                {"emailAddress": {"address": contact["email"], "name": contact["name"]}, "type": "required"}
            ]
        event, _ = state.create_event(user, body)
        stack.outlook_ids.append(event.id)
    store = stack.erp_app.state.store
    kinds = (ActivityType.MEETING, ActivityType.PHONE_CALL, ActivityType.TASK)
    for j in range(n):
        start = _slot(j, 12)
        people: dict[str, Any] = {}
        if j % WITH_PEOPLE_EVERY == 0:
            contact = contacts[j % CONTACTS]
            people = {
                "contact_ids": (contact["id"],),
                "participants": (
                    Participant(
                        email=contact["email"], name=contact["name"], kind=ParticipantKind.CONTACT, ref_id=contact["id"]
                    ),
                ),
            }
        fields = ActivityFields(
            type=kinds[j % len(kinds)],
            subject=f"Follow-up {j}",
            description=f"Notes for follow-up {j}",
            start=start,
            end=start + timedelta(minutes=30),
            time_zone="UTC",
            owner_id=USER,
            **people,
        )
        stack.erp_ids.append(store.create_activity(fields, idempotency_key=None).activity.id)


def edit_some(stack: Stack) -> int:
    """A person edits one item in ``CHANGED_SHARE`` on each side: Outlook events and ERP activities they made."""
    state = stack.graph_app.state.emulator.state
    user = state.user(MAILBOX)
    store = stack.erp_app.state.store
    picked = range(0, min(len(stack.outlook_ids), len(stack.erp_ids)), CHANGED_SHARE)
    for i in picked:
        state.update_event(user, stack.outlook_ids[i], {"location": {"displayName": f"Fjord room {i}"}})
        current = store.get_activity(stack.erp_ids[i])
        store.update_activity(current.id, ActivityPatch(location=f"Harbour room {i}"), version=current.version)
    return len(picked)


# --- measuring ---------------------------------------------------------------------------------------


@dataclass
class Phase:
    size: int
    name: str
    status: str
    seconds: float
    graph: Counter[str]  # from the emulator's request log (batch items one by one)
    graph_http: Counter[str]  # what went over the wire (tokens included)
    erp: Counter[str]
    tables: Counter[str]
    errors: Counter[str]
    wire_seconds: dict[str, float]
    peak_mib: float | None
    done: dict[str, int]
    skipped: int
    issues: int
    expected: dict[str, int]  # what the run should have done; anything else is flagged

    @property
    def graph_total(self) -> int:
        return sum(self.graph.values())

    @property
    def erp_total(self) -> int:
        return sum(self.erp.values())

    @property
    def table_total(self) -> int:
        return sum(self.tables.values())


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class MemoryProbe:
    """Peak memory growth over one run, in MiB, by one of three means.

    ``rss``: a thread samples the resident set size every few ms (cheap; counts the in-process emulators
    too, and memory Python keeps from an earlier run is reused without showing). ``tracemalloc``: the
    Python heap's peak above its level at the start, exact but slow (msgraph-sdk's model deserializers
    are hundreds of times slower under tracing: only usable for small N). ``off``: nothing.
    """

    def __init__(self, mode: str, *, interval: float = 0.005) -> None:
        self.mode, self._interval = mode, interval
        self._stop = threading.Event()
        self._base = self._peak = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MemoryProbe:
        if self.mode == "tracemalloc":
            tracemalloc.reset_peak()
            self._base = tracemalloc.get_traced_memory()[0]
        elif self.mode == "rss" and (rss := _rss_bytes()) is not None:
            self._base = self._peak = rss
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._peak = max(self._peak, _rss_bytes() or 0)

    def __exit__(self, *exc: object) -> None:
        if self.mode == "tracemalloc":
            self._peak = tracemalloc.get_traced_memory()[1]
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, _rss_bytes() or 0)

    @property
    def peak_mib(self) -> float | None:
        if self.mode == "off" or (self.mode == "rss" and self._thread is None):
            return None
        return max(self._peak - self._base, 0) / 2**20


async def measure(stack: Stack, size: int, name: str, *, memory: str, expected: dict[str, int]) -> Phase:
    await stack.control.delete("/_emulator/requests")
    for tally in (stack.graph, stack.erp, stack.tables):
        tally.clear()
    probe = MemoryProbe(memory)
    inside: dict[str, float] = {}
    started = time.perf_counter()
    with (
        counting_tables(stack.tables, stack.prefix),
        timing(HttpxRequestAdapter, GRAPH_SDK_CALLS, inside, "graph sdk"),
        timing(TableClient, TABLE_SDK_CALLS, inside, "tables sdk"),
        probe,
    ):
        report = await stack.services.engine.sync_user(USER)
    seconds = time.perf_counter() - started
    peak = probe.peak_mib
    log = (await stack.control.get("/_emulator/requests")).json()["requests"]
    graph = Counter(graph_kind(r["method"], r["path"]) for r in log)
    errors = Counter(f"G {graph_kind(r['method'], r['path'])} -> {r['status']}" for r in log if r["status"] >= 400)
    errors.update({f"E {k}": v for k, v in stack.erp.errors.items()})
    # A 404 on a Table entity read is how the store learns a row is absent (read before insert): not an error.
    errors.update({f"T {k}": v for k, v in stack.tables.errors.items() if not k.endswith("entity -> 404")})
    return Phase(
        size=size,
        name=name,
        status=report.status,
        seconds=seconds,
        graph=graph,
        graph_http=Counter(stack.graph.counts),
        erp=Counter(stack.erp.counts),
        tables=Counter(stack.tables.counts),
        errors=errors,
        wire_seconds={
            "graph": stack.graph.seconds,
            # Time inside msgraph-sdk's request adapter around the wire: building requests, parsing answers.
            "graph sdk": max(inside.get("graph sdk", 0.0) - stack.graph.seconds, 0.0),
            "erp": stack.erp.seconds,
            "tables": stack.tables.seconds,
            # Same for azure-data-tables' entity calls (queries are not included: a few per run).
            "tables sdk": max(inside.get("tables sdk", 0.0) - stack.tables.seconds, 0.0),
        },
        peak_mib=peak,
        done=dict(report.done),
        skipped=len(report.skipped),
        issues=len(report.issues),
        expected=expected,
    )


async def bench_size(conn: str, size: int, *, memory: str) -> list[Phase]:
    async with stack_on(conn) as stack:
        seed(stack, size)
        created = {"erp created": size, "m365 created": size}
        phases = [await measure(stack, size, "initial", memory=memory, expected=created)]
        # The first re-sync reads back what the initial sync wrote (delta and ERP feed): it must write nothing.
        phases.append(await measure(stack, size, "echo", memory=memory, expected={}))
        phases.append(await measure(stack, size, "quiet", memory=memory, expected={}))
        edited = edit_some(stack)
        updated = {"erp updated": edited, "m365 updated": edited}
        phases.append(await measure(stack, size, "incremental", memory=memory, expected=updated))
        return phases


# --- reporting ---------------------------------------------------------------------------------------


def _done(phase: Phase) -> str:
    parts = [f"{k} {v}" for k, v in sorted(phase.done.items())]
    if phase.skipped:
        parts.append(f"skipped {phase.skipped}")
    if phase.issues:
        parts.append(f"issues {phase.issues}")
    return f"{phase.status}: " + (", ".join(parts) if parts else "nothing to do")


TIME_SPLIT = ("graph", "graph sdk", "erp", "tables", "tables sdk")


def summary_table(phases: Sequence[Phase]) -> str:
    rows = [
        "| N | run | wall s | ms/item | Graph req | ERP req | Table ops | (G+E)/item | peak MiB "
        "| Graph · msgraph-sdk · ERP · Tables · tables-sdk · rest (s) | outcome |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for p in phases:
        split = [p.wire_seconds.get(name, 0.0) for name in TIME_SPLIT]
        split.append(p.seconds - sum(split))
        peak = f"{p.peak_mib:.1f}" if p.peak_mib is not None else "–"
        rows.append(
            f"| {p.size} | {p.name} | {p.seconds:.2f} | {1000 * p.seconds / p.size:.1f} | {p.graph_total} "
            f"| {p.erp_total} | {p.table_total} | {(p.graph_total + p.erp_total) / p.size:.2f} | {peak} "
            f"| {' · '.join(f'{part:.2f}' for part in split)} | {_done(p)} |"
        )
    return "\n".join(rows)


def breakdown_table(phases: Sequence[Phase], size: int) -> str:
    mine = [p for p in phases if p.size == size]
    kinds: dict[str, list[int]] = {}
    for column, p in enumerate(mine):
        tokens = p.graph_http.get("POST token", 0)
        for side, counts in (("Graph", p.graph + Counter({"POST token": tokens})), ("ERP", p.erp), ("Table", p.tables)):
            for kind, count in counts.items():
                if count:
                    kinds.setdefault(f"{side} `{kind}`", [0] * len(mine))[column] = count
    head = f"| request (N = {size}) | " + " | ".join(p.name for p in mine) + " |"
    rows = [head, "|---|" + "---:|" * len(mine)]
    rows += [f"| {kind} | " + " | ".join(str(c) for c in counts) + " |" for kind, counts in sorted(kinds.items())]
    return "\n".join(rows)


def checks(phases: Sequence[Phase]) -> list[str]:
    """Automatic flags on the request pattern: what a reviewer should look at first."""
    notes: list[str] = []
    for p in phases:
        where = f"N={p.size} {p.name}"
        event_gets = p.graph.get("GET /users/{mailbox}/events/{id}", 0)
        if event_gets >= max(2, p.size // 10):
            notes.append(f"{where}: {event_gets} single-event GETs ({event_gets / p.size:.2f} per item)")
        types = p.erp.get("GET /activity-types", 0)
        if types > 1:
            notes.append(f"{where}: `GET /activity-types` {types} times in one run (once per created activity?)")
        for kind in ("GET /contacts", "GET /companies", "GET /users", "GET /facilities"):
            if p.erp.get(kind, 0) > 2:
                notes.append(f"{where}: `{kind}` {p.erp[kind]} times in one run")
        activity_gets = p.erp.get("GET /activities/{id}", 0)
        if activity_gets >= max(2, p.size // 10):
            notes.append(f"{where}: {activity_gets} single-activity GETs")
        if p.name == "quiet" and p.graph_total + p.erp_total > 6:
            notes.append(f"{where}: a run with nothing to do made {p.graph_total} Graph and {p.erp_total} ERP requests")
        wire_total = sum(p.graph_http.values()) - p.graph_http.get("POST token", 0)
        if wire_total != p.graph_total:
            notes.append(
                f"{where}: {wire_total} Graph HTTP requests but {p.graph_total} in the emulator's log ($batch?)"
            )
        if p.done != p.expected:
            notes.append(f"{where}: did {p.done or 'nothing'}, expected {p.expected or 'nothing'}")
        if p.status != "ok" or p.issues:
            notes.append(f"{where}: status {p.status}, {p.issues} issue(s) recorded")
        for error, count in sorted(p.errors.items()):
            notes.append(f"{where}: {count} × {error}")
    initial = sorted((p for p in phases if p.name == "initial"), key=lambda p: p.size)
    if len(initial) >= 2:
        small, large = initial[0], initial[-1]
        ratio = (large.seconds / large.size) / (small.seconds / small.size)
        notes.append(
            f"initial sync time per item: {1000 * small.seconds / small.size:.1f} ms at N={small.size}, "
            f"{1000 * large.seconds / large.size:.1f} ms at N={large.size} (× {ratio:.2f})"
        )
    return notes


def machine() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def render(
    phases: Sequence[Phase], *, command: str, azurite: str, total_seconds: float, memory: str, profile: str
) -> str:
    info = machine()
    lines = [
        BEGIN,
        "",
        f"- date: {info['date']}",
        f"- machine: {info['cpus']} CPUs (`nproc`), {info['platform']}",
        "- load average when it ended (1/5/15 min, other work on the machine included): "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- python: {info['python']}",
        f"- command: `{command}` (Azurite {azurite})",
        f"- whole benchmark: {total_seconds:.0f} s; peak memory: {MEMORY_MODES[memory]}; "
        f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
        "",
        "### Runs",
        "",
        summary_table(phases),
        "",
        "### Requests by kind",
        "",
    ]
    for size in sorted({p.size for p in phases}):
        lines += [breakdown_table(phases, size), ""]
    lines += ["### Automatic checks", ""]
    lines += [f"- {note}" for note in checks(phases)] or ["- nothing flagged"]
    if profile:
        lines += ["", "### Profile", "", "```", profile.strip(), "```"]
    lines += ["", END]
    return "\n".join(lines)


def write_results(block: str, path: Path) -> None:
    """Replace the measured block of ``path``, keeping the hand-written interpretation around it."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + block + tail, encoding="utf-8")
            return
    path.write_text("# Benchmark results\n\n" + block + "\n\n## Interpretation\n\n(to be written)\n", encoding="utf-8")


# --- entry point -------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, comma separated")
    return sizes


async def profile_initial(conn: str, size: int) -> str:
    """cProfile of one more initial sync (not in the table: profiling slows it down), top functions by own time."""
    async with stack_on(conn) as stack:
        seed(stack, size)
        profiler = cProfile.Profile()
        profiler.enable()
        await stack.services.engine.sync_user(USER)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    text = out.getvalue().replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
    body = text[text.index("ncalls") :] if "ncalls" in text else text
    return f"initial sync, N={size}, top {PROFILE_LINES} functions by own time\n\n" + body


async def _main(conn: str, sizes: Sequence[int], *, memory: str, profile: bool) -> tuple[list[Phase], str]:
    # A small unreported round first: msgraph-sdk and kiota import their model modules on first use,
    # which would otherwise land in the first measured run (seconds, far more under tracemalloc).
    await bench_size(conn, WARM_UP_SIZE, memory="off")
    if memory == "tracemalloc":
        tracemalloc.start()
    phases: list[Phase] = []
    try:
        for size in sizes:
            started = time.perf_counter()
            phases += await bench_size(conn, size, memory=memory)
            print(f"N={size}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    finally:
        if memory == "tracemalloc":
            tracemalloc.stop()
    report = await profile_initial(conn, min(max(sizes), PROFILE_SIZE)) if profile else ""
    return phases, report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=[10, 100, 500], help="items per side, e.g. 10,100,500")
    parser.add_argument(
        "--memory", choices=sorted(MEMORY_MODES), default="rss", help="how peak memory is measured (default rss)"
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile one initial sync (N <= 100)")
    parser.add_argument("--no-write", dest="write", action="store_false", help=f"do not update {RESULTS.name}")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the engine logs one line per run and every issue
    command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    conn = os.environ.get("AZURITE_CONNECTION_STRING")
    if conn:
        phases, profile = asyncio.run(_main(conn, args.sizes, memory=args.memory, profile=args.profile))
    else:
        with running_azurite() as own:
            phases, profile = asyncio.run(_main(own, args.sizes, memory=args.memory, profile=args.profile))
    block = render(
        phases,
        command=command,
        azurite="from AZURITE_CONNECTION_STRING, e.g. `make bench`" if conn else "started by bench.run",
        total_seconds=time.perf_counter() - started,
        memory=args.memory,
        profile=profile,
    )
    print(block.removeprefix(BEGIN).removesuffix(END).strip())
    if args.write:
        write_results(block, args.results)
        print(f"\nwritten to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
