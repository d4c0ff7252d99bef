"""What a file costs (R18): requests and memory for a 1 MB and a 10 MB file each way.

``python -m bench.attachments [--no-write]`` (Azurite started around it when ``AZURITE_CONNECTION_STRING`` is
unset). One synced person (Ann) whose ERP setting ``syncAttachments`` is on, one meeting made in Outlook and
synced. Each scenario attaches or removes one file on one side, then runs Ann's sync until a run writes nothing.
Counted: runs, the service's Graph requests by kind, ERP requests, and the Python heap's peak during those runs
(``tracemalloc``, above what was allocated before: the file's own bytes are what a good run holds). The bytes on
the far side are compared with the original. Results go to bench/RESULTS.md, in their own block.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from bench.results_block import replace_block
from bench.run import RESULTS, CountingTransport, Stack, runs_until_quiet, stack_on
from bench.series import MAILBOX, USER, add_ann
from emulators.azurite import running_azurite
from emulators.file_person import MB, FilePerson, content, synced_meeting
from shared.sync import attachments as attachments_sync

MAX_RUNS = 5
BEGIN, END = (
    "<!-- bench-attachments:begin (written by python -m bench.attachments) -->",
    "<!-- bench-attachments:end -->",
)


@dataclass(frozen=True)
class Cost:
    scenario: str
    runs: int
    graph: int
    by_kind: str
    erp: int
    peak_mib: float
    process_peak_mib: float
    same_bytes: bool


async def _until_quiet(stack: Stack, person: FilePerson, scenario: str, expect: dict[str, bytes]) -> Cost:
    probe = ServiceHeap.install(stack)
    runs = await runs_until_quiet(stack, USER, MAX_RUNS)
    peak = probe.stop()
    want = {name: hashlib.sha256(data).hexdigest() for name, data in expect.items()}
    same = await person.outlook_files() == want and await person.erp_files() == want
    kinds = sorted(stack.graph.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Cost(
        scenario=scenario,
        runs=runs,
        graph=sum(stack.graph.counts.values()),
        by_kind=", ".join(f"{n}× `{k}`" for k, n in kinds),
        erp=sum(stack.erp.counts.values()),
        peak_mib=round(peak / MB, 1),
        process_peak_mib=round(probe.process_peak / MB, 1),
        same_bytes=same,
    )


async def _main(conn: str) -> list[Cost]:
    async with stack_on(conn) as stack:
        person = FilePerson(outlook=stack.control, graph_app=stack.graph_app, erp_app=stack.erp_app, mailbox=MAILBOX)
        await add_ann(stack, syncAttachments=True)
        await synced_meeting(person, stack.services, USER)
        small, big, back = content(1 * MB, "small"), content(10 * MB, "big"), content(10 * MB, "back")
        files: dict[str, bytes] = {}
        costs = []
        for scenario, change, name, data in (
            ("1 MB file attached in Outlook", person.attach_in_outlook, "small.pdf", small),
            ("10 MB file attached in Outlook", person.attach_in_outlook, "big.pdf", big),
            ("10 MB file attached in the ERP", person.attach_in_erp, "back.pdf", back),
        ):
            await change(name, data)
            files[name] = data
            costs.append(await _until_quiet(stack, person, scenario, files))
        await person.remove_in_outlook("big.pdf")
        del files["big.pdf"]
        costs.append(await _until_quiet(stack, person, "10 MB file removed in Outlook", files))
        await person.remove_in_erp("back.pdf")
        del files["back.pdf"]
        costs.append(await _until_quiet(stack, person, "10 MB file removed in the ERP", files))
        # A file 2.4 times as big: what the service holds stays a few upload ranges, not the file.
        await person.attach_in_erp("large.pdf", content(24 * MB, "large"))
        files["large.pdf"] = content(24 * MB, "large")
        costs.append(await _until_quiet(stack, person, "24 MB file attached in the ERP", files))
        return costs


class ServiceHeap:
    """The service's own heap while a file's bytes pass through it (tracemalloc), sampled at every request the
    service sends to Graph (each upload range) and every chunk it hands on.

    The emulators run in the same process and hold files too (the ERP's BLOBs, Graph's stored attachments, an
    upload session's ranges), so the process's peak says little about the service. At every chunk the sync hands
    on (the ERP's bytes on their way to Graph; the event's bytes held for the ERP), a snapshot adds up the blocks
    whose allocating frame is not the emulators' or their web framework's, above what was held before. The
    highest of these is the service's peak; the process's peak is reported beside it.
    """

    # The emulators and their web framework; the in-process transport's joining of a streamed answer (a network
    # transport hands it on as it arrives); the probe itself.
    EXCLUDE = ("*/emulators/*", "*/starlette/*", "*/sqlite3/*", "*/httpx/_transports/asgi.py", "*/tracemalloc.py")

    def __init__(self) -> None:
        self.base = 0
        self.peak = 0
        self.process_peak = 0
        self._undo: list[Any] = []

    @classmethod
    def install(cls, stack: Stack) -> ServiceHeap:
        probe = cls()
        tracemalloc.start(1)
        probe.base = probe._service_bytes()
        tracemalloc.reset_peak()
        erp = stack.services.erp
        reader = erp.read_activity_attachment
        replay = attachments_sync._replay

        def probed_reader(activity_id: str, attachment_id: str) -> AsyncIterator[bytes]:
            return probe._probed(reader(activity_id, attachment_id))

        def probed_replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
            # The event's bytes the sync holds for the ERP: in process they are the emulator's own object (Graph's
            # answer handed on without a copy), so the heap does not show them as the service's; counted here.
            return probe._probed(replay(chunks), held=sum(len(chunk) for chunk in chunks))

        async def probed_send(transport: CountingTransport, request: httpx.Request) -> httpx.Response:
            probe.peak = max(probe.peak, probe._service_bytes() - probe.base)  # an upload range is in hand here
            return await send(transport, request)

        send = CountingTransport.handle_async_request
        CountingTransport.handle_async_request = probed_send  # type: ignore[method-assign]
        erp.read_activity_attachment = probed_reader  # type: ignore[method-assign]
        attachments_sync._replay = probed_replay  # type: ignore[assignment]
        probe._undo = [
            lambda: setattr(CountingTransport, "handle_async_request", send),
            lambda: setattr(erp, "read_activity_attachment", reader),
            lambda: setattr(attachments_sync, "_replay", replay),
        ]
        return probe

    def _service_bytes(self) -> int:
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, pattern) for pattern in self.EXCLUDE]
        )
        return sum(stat.size for stat in snapshot.statistics("filename"))

    async def _probed(self, chunks: AsyncIterator[bytes], held: int = 0) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.peak = max(self.peak, self._service_bytes() - self.base + held)
            yield chunk

    def stop(self) -> int:
        self.process_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        for undo in self._undo:
            undo()
        return self.peak


def _table(costs: list[Cost]) -> str:
    lines = [
        "One person with `syncAttachments` on, one meeting made in Outlook and synced. Each row changes one file,",
        "then runs the sync until a run writes nothing (that quiet run included). Service heap: the most the",
        "service's own allocations held, above the start, at any chunk of the file passing through it (emulators",
        "excluded, `ServiceHeap`); process: the whole process's heap peak, in-process emulators holding the file",
        "included. Same bytes: every file's SHA-256 on both sides equals the original.",
        "",
        "| scenario | runs | Graph requests | of which | ERP requests | service heap MiB | process MiB | same bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in costs:
        lines.append(
            f"| {c.scenario} | {c.runs} | {c.graph} | {c.by_kind} | {c.erp} | {c.peak_mib} | {c.process_peak_mib}"
            f" | {'yes' if c.same_bytes else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not update bench/RESULTS.md")
    args = parser.parse_args()
    conn = os.environ.get("AZURITE_CONNECTION_STRING")
    if conn:
        costs = asyncio.run(_main(conn))
    else:
        with running_azurite() as started:
            costs = asyncio.run(_main(started))
    table = _table(costs)
    print(table)
    if not args.no_write:
        replace_block(RESULTS, BEGIN, END, table, heading="### What a file costs (`python -m bench.attachments`, R18)")
    if not all(c.same_bytes for c in costs):
        sys.exit("a file arrived with other bytes")


if __name__ == "__main__":
    main()
