"""What one meeting with several synced people costs (R10, R27): runs and requests until the tenant is quiet.

``python -m bench.meetings`` (Azurite started around it by ``make bench``). Three synced people (Ann, Bob,
Cy) and a customer contact (Eve). Each scenario changes one thing, then runs the three users' syncs round
after round until a whole round writes nothing; it counts the runs, and the Graph, ERP and Table Storage
requests of all of them (the quiet round included). Results go to bench/RESULTS.md, in their own block.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.run import RESULTS, Stack, counting_tables, stack_on
from emulators.azurite import running_azurite
from emulators.erp.seed import seed_store

PEOPLE = {"U-ANN": "ann@contoso.example", "U-BOB": "bob@contoso.example", "U-CY": "cy@contoso.example"}
EVE = "eve@fabrikam.example"
BEGIN, END = "<!-- bench-meetings:begin (written by python -m bench.meetings) -->", "<!-- bench-meetings:end -->"
MAX_ROUNDS = 6


@dataclass(frozen=True)
class Cost:
    scenario: str
    runs: int
    rounds: int
    graph: int
    erp: int
    tables: int
    activities: int


async def _people(stack: Stack) -> None:
    for user_id, mailbox in PEOPLE.items():
        added = await stack.control.post(
            "/_emulator/users", json={"mail": mailbox, "displayName": user_id, "kind": "user", "hasMailbox": True}
        )
        assert added.status_code == 201, added.text
    seed_store(
        stack.erp_app.state.store,
        {
            "users": [
                {
                    "id": user_id,
                    "displayName": user_id,
                    "email": mailbox,
                    "enabled": True,
                    "defaultCompanyId": "C-OWN",
                    "defaultLocationId": "L-HQ",
                }
                for user_id, mailbox in PEOPLE.items()
            ],
            "companies": [{"id": "C-OWN", "name": "Contoso"}, {"id": "C-FAB", "name": "Fabrikam"}],
            "contacts": [{"id": "K-EVE", "name": "Eve", "email": EVE, "companyId": "C-FAB"}],
        },
    )


def _slot(days: int) -> tuple[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)
    return start.replace(tzinfo=None).isoformat(), (start + timedelta(hours=1)).replace(tzinfo=None).isoformat()


async def _outlook(stack: Stack, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await stack.control.request(method, f"/v1.0{path}", **kwargs)
    assert response.status_code < 300, response.text
    return dict(response.json()) if response.content else {}


async def outlook_meeting(stack: Stack) -> None:
    """Ann invites Bob, Cy and Eve in Outlook."""
    start, end = _slot(2)
    await _outlook(
        stack,
        "POST",
        f"/users/{PEOPLE['U-ANN']}/events",
        json={
            "subject": "Quote review",
            "start": {"dateTime": start, "timeZone": "UTC"},
            "end": {"dateTime": end, "timeZone": "UTC"},
            "attendees": [{"type": "required", "emailAddress": {"address": a}} for a in (*PEOPLE.values(), EVE)][1:],
        },
    )


async def bob_accepts(stack: Stack) -> None:
    """Bob accepts his copy (Outlook sends the answer to Ann)."""
    found = await _outlook(
        stack, "GET", f"/users/{PEOPLE['U-BOB']}/events", params={"$filter": "subject eq 'Quote review'"}
    )
    copy = found["value"][0]["id"]
    await _outlook(stack, "POST", f"/users/{PEOPLE['U-BOB']}/events/{copy}/accept", json={"sendResponse": True})


async def erp_meeting(stack: Stack) -> None:
    """An ERP person books a meeting owned by Ann, with Bob and Cy registered and Eve's contact."""
    start, end = _slot(3)
    seed_store(
        stack.erp_app.state.store,
        {
            "activities": [
                {
                    "type": "meeting",
                    "subject": "Site visit",
                    "start": start,
                    "end": end,
                    "timeZone": "UTC",
                    "ownerId": "U-ANN",
                    "registeredUserIds": ["U-BOB", "U-CY"],
                    "contactIds": ["K-EVE"],
                    "participants": [
                        {"email": PEOPLE["U-BOB"], "kind": "user", "refId": "U-BOB"},
                        {"email": PEOPLE["U-CY"], "kind": "user", "refId": "U-CY"},
                        {"email": EVE, "kind": "contact", "refId": "K-EVE"},
                    ],
                    "state": "confirmed",
                }
            ]
        },
    )


async def _until_quiet(stack: Stack, scenario: str, change: Callable[[Stack], Awaitable[None]]) -> Cost:
    await change(stack)
    for tally in (stack.graph, stack.erp, stack.tables):
        tally.clear()
    runs = rounds = 0
    with counting_tables(stack.tables, stack.prefix):
        for rounds in range(1, MAX_ROUNDS + 1):  # noqa: B007 - the count is reported
            wrote = 0
            for user_id in PEOPLE:
                report = await stack.services.engine.sync_user(user_id)
                runs += 1
                assert report.status == "ok", report.summary()
                wrote += sum(report.done.values())
            if not wrote:
                break
    live: set[str] = set()
    for user_id in PEOPLE:
        page = stack.erp_app.state.store.activity_changes(user_id=user_id, cursor=None, ends_after=None, limit=500)
        subject = "Site visit" if "ERP" in scenario else "Quote review"
        live |= {
            c["activityId"]
            for c in page.items
            if c.get("activity") and c["activity"]["state"] != "voided" and subject in c["activity"]["subject"]
        }
    return Cost(
        scenario=scenario,
        runs=runs,
        rounds=rounds,
        graph=sum(stack.graph.counts.values()),
        erp=sum(stack.erp.counts.values()),
        tables=sum(stack.tables.counts.values()),
        activities=len(live),
    )


async def _main(conn: str) -> list[Cost]:
    async with stack_on(conn) as stack:
        await _people(stack)
        return [
            await _until_quiet(stack, "Outlook meeting: Ann + Bob, Cy (synced) + Eve (contact)", outlook_meeting),
            await _until_quiet(stack, "Bob accepts his copy", bob_accepts),
            await _until_quiet(stack, "ERP meeting owned by Ann, Bob and Cy registered, Eve's contact", erp_meeting),
        ]


def render(costs: Sequence[Cost]) -> str:
    lines = [
        BEGIN,
        "### One meeting across three synced mailboxes (`python -m bench.meetings`)",
        "",
        "Runs of the three users' syncs, round after round until a round writes nothing (that quiet round",
        "included); requests of all those runs. `live activities`: the ERP's live activities for the meeting",
        "(R10: always 1).",
        "",
        "| scenario | rounds | runs | Graph requests | ERP requests | Table requests | live activities |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {c.scenario} | {c.rounds} | {c.runs} | {c.graph} | {c.erp} | {c.tables} | {c.activities} |"
            for c in costs
        ),
        END,
    ]
    return "\n".join(lines)


def write_block(block: str, path: Path) -> None:
    """Replace this benchmark's block in ``path`` (or add it at the end), keeping everything else."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


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
        write_block(block, RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
