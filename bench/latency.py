"""Latency and runs on the live local stack with the production queue settings (issue 12, item 6).

``python -m bench.latency [--samples 10] [--import-size 150] [--no-write]``. Starts what ``make demo`` starts
(Azurite, the Graph emulator, the reference ERP with its signed hook, ``function_app.py`` on the local
Functions host), but the host polls its queue continuously with the repository's ``host.json`` (its
``maxPollingInterval``, ``batchSize`` and the backoff of an empty queue, as the real host does). Then:

1. Outlook → ERP: one new event at a time, after 3 s of quiet (the host's polling backed off); the time
   until its activity is in the ERP (polled every 50 ms);
2. ERP → Outlook: one new confirmed meeting at a time; the time until its event is in Outlook;
3. an ERP import of ``--import-size`` activities written at once; the time until all are in Outlook.

Each phase counts the sync runs it caused until the stack is quiet again (runs of the engine; a queue invocation
that only turned Graph notifications into sync requests is not one). Numbers go
into ``bench/RESULTS.md`` between their own markers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.results_block import replace_block
from bench.run import RESULTS
from emulators.azurite import running_azurite
from emulators.demo import ALICE, BOB, ERP_KEY, HOOK_SECRET, TENANT, Person, _free_port, _seed_erp, _serve
from emulators.erp.app import create_app as create_erp
from emulators.functions_host import LocalFunctionsHost
from emulators.graph.app import create_app as create_graph
from shared.sync.engine import SyncEngine

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:latency:begin (written by python -m bench.latency) -->", "<!-- bench:latency:end -->"
POLL = 0.05
IDLE = 3.0  # seconds of quiet before each change: longer than maxPollingInterval, as a real user's pace


_SYNC_RUNS = [0]  # engine runs in this process (the local host runs the function app here)


def _count_sync_runs() -> None:
    real = SyncEngine.sync_user

    async def counted(self: SyncEngine, user_id: str) -> Any:
        _SYNC_RUNS[0] += 1
        return await real(self, user_id)

    SyncEngine.sync_user = counted  # type: ignore[method-assign]


def _runs(host: LocalFunctionsHost) -> int:
    """Sync runs so far: a queue invocation that only turned Graph notifications into requests is none."""
    return _SYNC_RUNS[0]


def _invocations(host: LocalFunctionsHost) -> int:
    return sum(1 for i in host.invocations if i.trigger == "queue")


async def _quiet(host: LocalFunctionsHost, quiet_seconds: float = 4.0, limit: float = 120.0) -> None:
    """Wait until no queue invocation happened for ``quiet_seconds`` (longer than maxPollingInterval)."""
    deadline = time.monotonic() + limit
    seen, since = _invocations(host), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if _invocations(host) != seen:
            seen, since = _invocations(host), time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return


async def _until(check: Any, limit: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(POLL)
    raise TimeoutError("the change never arrived")


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


async def run(samples: int, import_size: int) -> dict[str, Any]:
    host_json = json.loads((ROOT / "host.json").read_text())
    with running_azurite() as storage:
        graph_port, erp_port, functions_port = _free_port(), _free_port(), _free_port()
        functions_url = f"http://127.0.0.1:{functions_port}"
        erp_app = create_erp(
            ":memory:", api_key=ERP_KEY, hook_url=f"{functions_url}/api/erp/hook", hook_secret=HOOK_SECRET
        )
        async with _serve(create_graph(), graph_port) as graph_url, _serve(erp_app, erp_port) as erp_url:
            environ = {
                "AzureWebJobsStorage": storage,
                "GRAPH_TENANT_ID": TENANT,
                "GRAPH_CLIENT_ID": "calendar-sync",
                "GRAPH_CLIENT_SECRET": "bench-secret",
                "GRAPH_CLIENT_STATE": "bench-client-state-0123456789",
                "GRAPH_BASE_URL": f"{graph_url}/v1.0",
                "GRAPH_AUTHORITY_HOST": graph_url,
                "GRAPH_NOTIFICATION_URL": f"{functions_url}/api/graph/notifications",
                "GRAPH_LIFECYCLE_URL": f"{functions_url}/api/graph/lifecycle",
                "ERP_BASE_URL": erp_url,
                "ERP_API_KEY": ERP_KEY,
                "ERP_HOOK_SECRET": HOOK_SECRET,
            }
            async with (
                httpx.AsyncClient(base_url=graph_url, timeout=30) as graph,
                httpx.AsyncClient(
                    base_url=erp_url + "/", timeout=30, headers={"Authorization": f"Bearer {ERP_KEY}"}
                ) as erp,
            ):
                for mail, name in ((ALICE, "Alice Adams"), (BOB, "Bob Berg")):
                    body = {"mail": mail, "displayName": name, "kind": "user", "hasMailbox": True}
                    (await graph.post("/_emulator/users", json=body)).raise_for_status()
                token = (
                    await graph.post(
                        f"/{TENANT}/oauth2/v2.0/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": "outlook-user",
                            "client_secret": "x",
                            "scope": "https://graph.microsoft.com/.default",
                        },
                    )
                ).json()["access_token"]
                graph.headers["Authorization"] = f"Bearer {token}"
                _seed_erp(erp_app.state.store)
                person = Person(graph, erp)
                host = LocalFunctionsHost("function_app:app", environ=environ, app_dir=ROOT, host_json=host_json)
                async with host.serving(port=functions_port, poll_queues=True):
                    await host.run_timer("maintain_subscriptions")
                    await host.run_timer("safety_net")
                    await _quiet(host)
                    return await _measure(host, person, samples, import_size)


async def _measure(host: LocalFunctionsHost, person: Person, samples: int, import_size: int) -> dict[str, Any]:
    day = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=2)
    out: dict[str, Any] = {}

    before = _runs(host)
    to_erp: list[float] = []
    for n in range(samples):
        await asyncio.sleep(IDLE)  # the host's polling has backed off to maxPollingInterval
        subject = f"Visit {n}"
        await person.new_event(ALICE, subject, day + timedelta(hours=n % 8, days=n // 8), 30)

        async def in_erp(subject: str = subject) -> bool:
            return subject in await person.activities("U-ALICE")

        to_erp.append(await _until(in_erp))
    await _quiet(host)
    out["to_erp"] = (to_erp, _runs(host) - before)

    before = _runs(host)
    to_m365: list[float] = []
    for n in range(samples):
        await asyncio.sleep(IDLE)
        subject = f"Review {n}"
        start = day + timedelta(days=5 + n // 8, hours=n % 8)
        await person.new_activity(
            type="meeting", subject=subject, ownerId="U-ALICE", start=start, end=start + timedelta(minutes=30)
        )

        async def in_outlook(subject: str = subject) -> bool:
            return any(s.startswith(f"Meeting: {subject}") for s in await person.events(ALICE))

        to_m365.append(await _until(in_outlook))
    await _quiet(host)
    out["to_m365"] = (to_m365, _runs(host) - before)

    before = _runs(host)
    started = time.monotonic()
    await asyncio.gather(
        *(
            person.new_activity(
                type="task",
                subject=f"Imported {n}",
                ownerId="U-ALICE",
                start=day + timedelta(days=12 + n % 10, minutes=15 * (n % 30)),
                end=day + timedelta(days=12 + n % 10, minutes=15 * (n % 30) + 15),
            )
            for n in range(import_size)
        )
    )

    async def all_in() -> bool:
        return sum(s.startswith("Task: Imported") for s in await person.events(ALICE)) >= import_size

    out["import"] = (time.monotonic() - started + await _until(all_in, limit=300.0), 0)
    await _quiet(host)
    out["import"] = (out["import"][0], _runs(host) - before)
    return out


def _write(result: dict[str, Any], samples: int, import_size: int, host_json: dict[str, Any]) -> None:
    queues = host_json.get("extensions", {}).get("queues", {})
    lines = [
        BEGIN,
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}; host.json queues: {json.dumps(queues)}",
        "",
        "| phase | changes | p50 s | p95 s | max s | sync runs | runs per change |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label, count in (
        ("to_erp", "new Outlook event → ERP activity", samples),
        ("to_m365", "new ERP meeting → Outlook event", samples),
    ):
        values, runs = result[name]
        lines.append(
            f"| {label} | {count} | {statistics.median(values):.2f} | {_p95(values):.2f} | {max(values):.2f} |"
            f" {runs} | {runs / count:.2f} |"
        )
    took, runs = result["import"]
    lines.append(
        f"| ERP import of {import_size} activities, all in Outlook | {import_size} | - | - | {took:.2f} | {runs} | - |"
    )
    lines += ["", END]
    replace_block(
        RESULTS,
        BEGIN,
        END,
        "\n".join(lines[1:-1]),
        heading="### Latency and runs on the live local stack (`python -m bench.latency`)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--import-size", type=int, default=150)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    _count_sync_runs()
    result = asyncio.run(run(args.samples, args.import_size))
    for name, (values, runs) in result.items():
        print(name, values if isinstance(values, float) else [round(v, 2) for v in values], "runs", runs)
    if not args.no_write:
        _write(result, args.samples, args.import_size, json.loads((ROOT / "host.json").read_text()))


if __name__ == "__main__":
    main()
