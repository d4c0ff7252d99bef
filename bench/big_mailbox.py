"""A mailbox too big for one invocation (issue 12, item 5): its first sync across several invocations.

``python -m bench.big_mailbox [--events 20000] [--budget 20] [--no-write]``. One user whose Outlook holds
``--events`` events; the engine runs on the in-process fakes (the Graph emulator's dispatcher, the reference
ERP's store, state in memory) with a run budget of ``--budget`` seconds (production: 420 s of a 600 s
function timeout, ``shared/sync/budget.py``). Invocations follow each other as the worker queues them, until
one finishes; then a quiet run. Reported: invocations, each one's wall time (the longest must stay within the
budget plus one chunk), activities made, duplicates (must be 0), the process's peak RSS. Numbers go into
``bench/RESULTS.md`` between their own markers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.results_block import replace_block
from bench.run import RESULTS
from emulators.fakes.stack import FakeStack
from shared.sync import budget

BEGIN, END = (
    "<!-- bench:big-mailbox:begin (written by python -m bench.big_mailbox) -->",
    "<!-- bench:big-mailbox:end -->",
)
USER, MAILBOX = "U-ANN", "ann@contoso.example"


def _event(n: int, day0: datetime) -> dict[str, object]:
    start = day0 + timedelta(days=1 + n % 28, minutes=15 * (n % 40))
    return {
        "subject": f"Visit {n}",
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=15)).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }


async def _activities(stack: FakeStack) -> Counter[str]:
    subjects: Counter[str] = Counter()
    params = {"userId": USER}
    while True:
        page = (await stack.erp_call("GET", "/activity-changes", params=params)).json()
        for change in page["items"]:
            activity = change.get("activity")
            if activity and activity["state"] != "voided":
                subjects[activity["subject"]] += 1
        if not page["hasMore"]:
            return subjects
        params = {"userId": USER, "cursor": page["nextCursor"]}


async def run(events: int, budget_seconds: float) -> dict[str, object]:
    budget.RUN_BUDGET_SECONDS = budget_seconds
    stack = await FakeStack.start()
    try:
        await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
        emulator = stack.graph_app.state.emulator
        ann = emulator.state.user(MAILBOX)
        day0 = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
        for n in range(events):
            emulator.state.create_event(ann, _event(n, day0))
        walls: list[float] = []
        requests: list[int] = []  # Graph requests of each invocation, as the emulator counted them
        while True:
            started, seen = time.perf_counter(), len(emulator.state.requests)
            report = await stack.engine.sync_user(USER)
            walls.append(time.perf_counter() - started)
            requests.append(len(emulator.state.requests) - seen)
            if report.status != "continues":
                break
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the process's peak RSS (Linux: KiB)
        quiet = await stack.engine.sync_user(USER)
        subjects = await _activities(stack)
        return {
            "events": events,
            "budget": budget_seconds,
            "invocations": len(walls),
            "longest": max(walls),
            "total": sum(walls),
            "graph requests": sum(requests),
            "most graph requests": max(requests),
            "status": report.status,
            "activities": len(subjects),
            "duplicates": sum(c - 1 for c in subjects.values() if c > 1),
            "quiet writes": sum(quiet.done.values()),
            "peak MiB": peak / 2**20,
        }
    finally:
        await stack.aclose()


def _write(result: dict[str, object]) -> None:
    lines = [
        BEGIN,
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}; peak is the process's RSS",
        "",
        "| events | budget s | invocations | longest s | total s | Graph requests (most in one) | activities |"
        " duplicates | quiet-run writes | peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['events']} | {result['budget']:.0f} | {result['invocations']} | {result['longest']:.1f} |"
        f" {result['total']:.1f} | {result['graph requests']} ({result['most graph requests']}) |"
        f" {result['activities']} | {result['duplicates']} | {result['quiet writes']} | {result['peak MiB']:.0f} |",
        "",
        END,
    ]
    replace_block(
        RESULTS,
        BEGIN,
        END,
        "\n".join(lines[1:-1]),
        heading="### A mailbox too big for one invocation (`python -m bench.big_mailbox`)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.budget))
    print(result)
    if not args.no_write:
        _write(result)


if __name__ == "__main__":
    main()
