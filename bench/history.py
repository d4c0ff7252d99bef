"""A quiet run's cost as history piles up, and after the daily clean-up prunes it (issue 11).

``python -m bench.history [--items 100] [--tombstones 10000] [--no-write]`` (starts its own Azurite when
AZURITE_CONNECTION_STRING is unset). One user with ``--items`` synced items each side (as ``bench.run``), then:

1. ``quiet``: a quiet run with no history (the baseline);
2. ``quiet + history``: the same after ``--tombstones`` retired links, last changed 40 days ago, were written
   straight into the links table (what months of voided meetings and deleted events leave);
3. the clean-up job (``shared.handlers.daily.daily_cleanup``), run until it finds nothing more;
4. ``quiet after clean-up``: a quiet run again.

The numbers are written into ``bench/RESULTS.md`` between their own markers (``bench.run`` leaves them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure.data.tables.aio import TableServiceClient

from bench.results_block import replace_block
from bench.run import RESULTS, USER, Stack, counting_tables, machine, measure, seed, stack_on
from emulators.azurite import running_azurite
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.handlers.daily import daily_cleanup
from shared.state import entities as ent
from shared.state.limits import MAX_TRANSACTION_OPERATIONS

BEGIN, END = "<!-- bench:history:begin (written by python -m bench.history) -->", "<!-- bench:history:end -->"


@dataclass
class Row:
    name: str
    seconds: float
    table_ops: int
    links_queries: int
    detail: str


def tombstone(n: int, updated_at: datetime) -> Link:
    return Link(
        user_id=USER,
        link_id=f"tomb-{n:06d}",
        kind=ItemKind.MEETING,
        origin=Side.M365,
        state=LinkState.RETIRED,
        event_id=f"AAMk-gone-{n:06d}",
        activity_id=f"act-voided-{n:06d}",
        updated_at=updated_at,
    )


async def write_tombstones(conn: str, stack: Stack, count: int, updated_at: datetime) -> None:
    """Retired links with their index rows, straight into the links table (seeding, not measured)."""
    async with TableServiceClient.from_connection_string(conn) as service:
        table = service.get_table_client(f"{stack.prefix}Links")
        batch: list[tuple[str, dict[str, object]]] = []
        for n in range(count):
            link = tombstone(n, updated_at)
            rows = [ent.link_entity(link), *(ent.index_entity(USER, row, link.link_id) for row in ent.index_rows(link))]
            if len(batch) + len(rows) > MAX_TRANSACTION_OPERATIONS:
                await table.submit_transaction(batch)
                batch = []
            batch += [("create", row) for row in rows]
        if batch:
            await table.submit_transaction(batch)


async def quiet(stack: Stack, name: str) -> Row:
    phase = await measure(stack, 1, name, memory="off", expected={})
    links = phase.tables.get("GET Links query", 0)
    return Row(name, phase.seconds, phase.table_total, links, f"{phase.status}, {sum(phase.done.values())} writes")


async def clean_up(stack: Stack) -> Row:
    stack.tables.clear()
    rounds, counts = 0, []
    started = time.perf_counter()
    with counting_tables(stack.tables, stack.prefix):
        while True:
            rounds += 1
            done = await daily_cleanup(stack.services)
            counts.append(done.get("links deleted", 0))
            if not done.get("links deleted"):
                break
    seconds = time.perf_counter() - started
    detail = f"{rounds} nightly runs, links deleted per run: {counts}"
    total = sum(stack.tables.counts.values())
    return Row("clean-up job", seconds, total, stack.tables.counts.get("GET Links query", 0), detail)


async def _main(conn: str, items: int, tombstones: int) -> list[Row]:
    async with stack_on(conn) as stack:
        seed(stack, items)
        await measure(stack, items, "initial", memory="off", expected={})
        await measure(stack, items, "echo", memory="off", expected={})
        rows = [await quiet(stack, "quiet")]
        await write_tombstones(conn, stack, tombstones, datetime.now(UTC) - timedelta(days=40))
        rows.append(await quiet(stack, f"quiet + {tombstones} retired links"))
        rows.append(await clean_up(stack))
        rows.append(await quiet(stack, "quiet after clean-up"))
        return rows


def render(rows: Sequence[Row], items: int, tombstones: int) -> str:
    info = machine()
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {info['cpus']} CPUs; python {info['python']}",
        f"- one user, {items} synced items each side; {tombstones} retired links 40 days old "
        "(retention 30 days); Table ops counted at azure-data-tables' transport",
        "",
        "| run | wall s | Table ops | `GET Links query` pages | outcome |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {r.name} | {r.seconds:.2f} | {r.table_ops} | {r.links_queries} | {r.detail} |" for r in rows]
    return "\n".join(lines)


def write(block: str, path: Path) -> None:
    replace_block(path, BEGIN, END, block, heading="## History: quiet runs before and after the clean-up")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--tombstones", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    def run(conn: str) -> list[Row]:
        return asyncio.run(_main(conn, args.items, args.tombstones))

    conn = os.environ.get("AZURITE_CONNECTION_STRING")
    if conn:
        rows = run(conn)
    else:
        with running_azurite() as started:
            rows = run(started)
    block = render(rows, args.items, args.tombstones)
    print(block)
    if not args.no_write:
        write(block, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
