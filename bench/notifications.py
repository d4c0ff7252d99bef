"""How fast the Graph notification endpoint answers a concurrent burst (issue 12, item 7).

``python -m bench.notifications [--users 100] [--bursts 3] [--no-write]`` (starts its own Azurite when
AZURITE_CONNECTION_STRING is unset). ``--users`` subscriptions are stored; then ``--bursts`` times, one POST per
user (one notification each, as Graph sends a change) is handed to ``shared.handlers.graph_notification_intake``
(the function app's answer) all at once, in this process, with the sync queue and the state on Azurite. Each
answer's latency is measured, and the state look-ups counted. Graph wants an answer within 3 s and counts
answers over about 2.9 s as slow (graph-facts §2). The numbers go into ``bench/RESULTS.md`` between their own markers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.results_block import replace_block
from bench.run import RESULTS, machine
from emulators.azurite import running_azurite
from emulators.stack import start_stack
from shared import handlers
from shared.state.model import SubscriptionRecord

BEGIN = "<!-- bench:notifications:begin (written by python -m bench.notifications) -->"
END = "<!-- bench:notifications:end -->"


@dataclass
class Burst:
    name: str
    latencies: list[float]
    lookups: int
    statuses: set[int]

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _body(sub_id: str, client_state: str) -> bytes:
    note = {
        "subscriptionId": sub_id,
        "clientState": client_state,
        "changeType": "updated",
        "resource": f"Users/{sub_id}/Events/AAMk1",
        "tenantId": "t",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMk1"},
    }
    return json.dumps({"value": [note]}).encode()


async def _main(conn: str, users: int, bursts: int) -> list[Burst]:
    stack = await start_stack(conn, prefix_stem="n")
    try:
        services = stack.services
        now = datetime.now(UTC)
        ids = []
        for n in range(users):
            sub_id = str(uuid.uuid4())
            ids.append(sub_id)
            await services.state.save_subscription(
                SubscriptionRecord(
                    subscription_id=sub_id,
                    user_id=f"U-{n:04d}",
                    mailbox=f"user{n}@contoso.example",
                    resource=f"/users/user{n}@contoso.example/events",
                    expires_at=now + timedelta(days=2),
                    created_at=now,
                )
            )
        client_state = services.settings.graph_client_state.get_secret_value()
        counted = {"n": 0}
        state: Any = services.state
        for name in ("get_subscription", "subscriptions"):
            real = getattr(state, name)

            async def counting(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
                counted["n"] += 1
                return await _real(*args, **kwargs)

            setattr(state, name, counting)

        async def one(sub_id: str) -> tuple[float, int]:
            started = time.perf_counter()
            answer = await handlers.graph_notification_intake(
                services, body=_body(sub_id, client_state), validation_token=None
            )
            return time.perf_counter() - started, answer.status

        out = []
        for b in range(bursts):
            counted["n"] = 0
            results = await asyncio.gather(*(one(sub_id) for sub_id in ids))
            name = "first burst (cold)" if b == 0 else f"burst {b + 1}"
            out.append(Burst(name, [r[0] for r in results], counted["n"], {r[1] for r in results}))
        return out
    finally:
        await stack.aclose()


def render(bursts: Sequence[Burst], users: int) -> str:
    info = machine()
    load = os.getloadavg()
    lines = [
        f"- date: {info['date']}; machine: {info['cpus']} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (1/5/15 min) when it ended; python {info['python']}",
        f"- {users} concurrent POSTs, one notification each for {users} different subscriptions, handled in one "
        "process by `shared.handlers.graph_notification_intake` (what the function app answers with: one queue "
        "message per POST; the worker looks the subscriptions up and queues the syncs); state and the queue on "
        "Azurite",
        "",
        "| burst | p50 s | p95 s | max s | state look-ups | answers |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for b in bursts:
        lines.append(
            f"| {b.name} | {statistics.median(b.latencies):.3f} | {b.p(0.95):.3f} | {max(b.latencies):.3f} "
            f"| {b.lookups} | {', '.join(str(s) for s in sorted(b.statuses))} |"
        )
    return "\n".join(lines)


def write(block: str, path: Path) -> None:
    replace_block(path, BEGIN, END, block, heading="## Notification endpoint: a concurrent burst")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    def run(conn: str) -> list[Burst]:
        return asyncio.run(_main(conn, args.users, args.bursts))

    conn = os.environ.get("AZURITE_CONNECTION_STRING")
    if conn:
        bursts = run(conn)
    else:
        with running_azurite() as started:
            bursts = run(started)
    block = render(bursts, args.users)
    print(block)
    if not args.no_write:
        write(block, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
