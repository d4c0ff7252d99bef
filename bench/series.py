"""What a recurring series costs (R28): Graph requests until one user's sync is quiet, per scenario.

``python -m bench.series`` (Azurite started around it when ``AZURITE_CONNECTION_STRING`` is unset). One synced
person (Ann) and an ERP that holds series. Each scenario changes one thing, then runs Ann's sync until a run
writes nothing; it counts the runs and the Graph requests of all of them (the quiet run included), by kind.
Results go to bench/RESULTS.md, in their own block.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.run import RESULTS, Stack, runs_until_quiet, stack_on
from emulators.azurite import running_azurite
from emulators.erp.seed import seed_store
from shared.core.activities import ActivityPatch

USER, MAILBOX, ZONE = "U-ANN", "ann@contoso.example", "Europe/Oslo"
OCCURRENCES = 5
BEGIN, END = "<!-- bench-series:begin (written by python -m bench.series) -->", "<!-- bench-series:end -->"
MAX_RUNS = 5


@dataclass(frozen=True)
class Cost:
    scenario: str
    runs: int
    graph: int
    by_kind: str
    erp: int
    tables: int


def _day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def _weekly(day: str) -> dict[str, Any]:
    weekday = datetime.fromisoformat(day).strftime("%A").lower()
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [weekday]},
        "range": {"type": "numbered", "startDate": day, "numberOfOccurrences": OCCURRENCES},
    }


async def _outlook(stack: Stack, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await stack.control.request(method, f"/v1.0{path}", **kwargs)
    assert response.status_code < 300, response.text
    return dict(response.json()) if response.content else {}


async def add_ann(stack: Stack, **more: Any) -> None:
    """Ann: a mailbox in the emulator and an ERP user with the defaults a new activity needs (``more``: other
    fields of her ERP user record)."""
    added = await stack.control.post(
        "/_emulator/users", json={"mail": MAILBOX, "displayName": "Ann", "kind": "user", "hasMailbox": True}
    )
    assert added.status_code == 201, added.text
    user = {
        "id": USER,
        "displayName": "Ann",
        "email": MAILBOX,
        "enabled": True,
        "defaultCompanyId": "C-OWN",
        "defaultLocationId": "L-HQ",
        "timeZone": ZONE,
        **more,
    }
    seed_store(stack.erp_app.state.store, {"users": [user], "companies": [{"id": "C-OWN", "name": "Contoso"}]})


async def _instances(stack: Stack, master_id: str) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(days=1)
    params = {"startDateTime": start.isoformat(), "endDateTime": (start + timedelta(days=60)).isoformat()}
    found = await _outlook(stack, "GET", f"/users/{MAILBOX}/events/{master_id}/instances", params=params)
    return sorted(found["value"], key=lambda o: o["originalStart"])


class Scenarios:
    """The changes, in order (each starts from what the previous left)."""

    def __init__(self) -> None:
        self.master_id = ""
        self.activity_id = ""

    async def outlook_series(self, stack: Stack) -> None:
        day = _day(2)
        created = await _outlook(
            stack,
            "POST",
            f"/users/{MAILBOX}/events",
            json={
                "subject": "Weekly check-in",
                "start": {"dateTime": f"{day}T10:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T11:00:00", "timeZone": ZONE},
                "recurrence": _weekly(day),
            },
        )
        self.master_id = created["id"]

    async def outlook_occurrence_moved(self, stack: Stack) -> None:
        second = (await _instances(stack, self.master_id))[1]
        day = second["start"]["dateTime"][:10]
        await _outlook(
            stack,
            "PATCH",
            f"/users/{MAILBOX}/events/{second['id']}",
            json={
                "start": {"dateTime": f"{day}T14:00:00", "timeZone": ZONE},
                "end": {"dateTime": f"{day}T15:00:00", "timeZone": ZONE},
            },
        )

    async def erp_series(self, stack: Stack) -> None:
        day = _day(3)
        activity = {
            "type": "meeting",
            "subject": "Series review",
            "start": f"{day}T13:00:00",
            "end": f"{day}T14:00:00",
            "timeZone": ZONE,
            "ownerId": USER,
            "state": "confirmed",
            "recurrence": _weekly(day),
        }
        store = stack.erp_app.state.store
        seed_store(store, {"activities": [activity]})
        page = store.activity_changes(user_id=USER, cursor=None, ends_after=None, limit=500)
        self.activity_id = next(
            c["activityId"] for c in page.items if c.get("activity") and c["activity"]["subject"] == "Series review"
        )

    async def erp_occurrence_moved(self, stack: Stack) -> None:
        store = stack.erp_app.state.store
        current = store.get_activity(self.activity_id)
        day = (datetime.fromisoformat(str(current.start)[:10]) + timedelta(days=7)).date().isoformat()
        exception = {"originalStart": f"{day}T13:00:00", "start": f"{day}T16:00:00", "end": f"{day}T17:00:00"}
        store.update_activity(
            self.activity_id, ActivityPatch.model_validate({"exceptions": [exception]}), version=current.version
        )


async def _until_quiet(stack: Stack, scenario: str, change: Callable[[Stack], Awaitable[None]]) -> Cost:
    await change(stack)
    runs = await runs_until_quiet(stack, USER, MAX_RUNS)
    kinds = sorted(stack.graph.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Cost(
        scenario=scenario,
        runs=runs,
        graph=sum(stack.graph.counts.values()),
        by_kind=", ".join(f"{n}× `{k}`" for k, n in kinds),
        erp=sum(stack.erp.counts.values()),
        tables=sum(stack.tables.counts.values()),
    )


async def _main(conn: str) -> list[Cost]:
    async with stack_on(conn) as stack:
        await add_ann(stack)
        await stack.services.engine.sync_user(USER)  # the first pull of an empty mailbox, not measured
        steps = Scenarios()
        return [
            await _until_quiet(stack, f"Outlook series of {OCCURRENCES} created", steps.outlook_series),
            await _until_quiet(stack, "one of its occurrences moved in Outlook", steps.outlook_occurrence_moved),
            await _until_quiet(stack, f"ERP series of {OCCURRENCES} created", steps.erp_series),
            await _until_quiet(stack, "one of its occurrences moved in the ERP", steps.erp_occurrence_moved),
        ]


def render(costs: Sequence[Cost]) -> str:
    lines = [
        BEGIN,
        "### What a recurring series costs (`python -m bench.series`, R28)",
        "",
        f"One synced person, an ERP with series, a weekly series of {OCCURRENCES}. Ann's sync runs until a run",
        "writes nothing (that quiet run included); requests of all those runs. A series touched in a run costs",
        "`GET /events/{id}` (its master: the delta never carries it) and `GET …/instances` (its occurrences in the",
        "window), whatever its number of occurrences.",
        "",
        "| scenario | runs | Graph requests | of which | ERP requests | Table requests |",
        "|---|---|---|---|---|---|",
        *(f"| {c.scenario} | {c.runs} | {c.graph} | {c.by_kind} | {c.erp} | {c.tables} |" for c in costs),
        END,
    ]
    return "\n".join(lines)


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    conn = os.environ.get("AZURITE_CONNECTION_STRING")
    if conn:
        costs = asyncio.run(_main(conn))
    else:
        with running_azurite() as own:
            costs = asyncio.run(_main(own))
    block = render(costs)
    print(block)
    if "--no-write" not in sys.argv:
        write_block_here(block)
    return 0


def write_block_here(block: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
