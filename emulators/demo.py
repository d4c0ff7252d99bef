"""`make demo`: the whole sync on the local stack, driven the way people would use it.

Starts Azurite, the Graph emulator and the reference ERP on loopback, runs ``function_app.py`` on the
local Functions host, seeds a small tenant (two people, a room, a customer), and then:
1. runs the subscription timer (Graph validates the notification endpoint) and the safety-net timer,
   which queues a first sync per user (the initial pull, R4);
2. makes changes as people would: edits, creates and deletes in Outlook (through Graph) and in the ERP
   (through its API), and lets Graph notifications and the ERP's signed change hook drive the sync;
3. prints what reached each side, checks it, and exits 0 only if everything arrived.
``--keep-running`` leaves the stack up afterwards (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from starlette.types import ASGIApp

from emulators import demo_daily, demo_series, demo_status
from emulators.azurite import running_azurite
from emulators.erp.app import create_app as create_erp
from emulators.erp.seed import seed_store
from emulators.functions_host import LocalFunctionsHost
from emulators.graph.app import create_app as create_graph
from shared.composition import close_services, services

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Europe/Oslo")
TENANT = "contoso.example"
ERP_KEY = "demo-erp-key-0123456789"
HOOK_SECRET = "demo-hook-secret-0123456789"  # noqa: S105  # a demo value for a loopback-only stack
ALICE, BOB = "alice@contoso.example", "bob@contoso.example"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _serve(app: ASGIApp, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


class Person:
    """What a person does in Outlook (Graph REST with a token) and in the ERP (its API)."""

    def __init__(self, graph: httpx.AsyncClient, erp: httpx.AsyncClient) -> None:
        self.graph, self.erp = graph, erp

    async def outlook(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.graph.request(method, f"/v1.0{path}", **kwargs)
        response.raise_for_status()
        return dict(response.json()) if response.content else {}

    async def new_event(
        self, mailbox: str, subject: str, start: datetime, minutes: int, **extra: Any
    ) -> dict[str, Any]:
        end = start + timedelta(minutes=minutes)
        body = {
            "subject": subject,
            "body": {"contentType": "text", "content": extra.pop("text", "")},
            "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "W. Europe Standard Time"},
            **extra,
        }
        return await self.outlook("POST", f"/users/{mailbox}/events", json=body)

    async def events(self, mailbox: str) -> dict[str, dict[str, Any]]:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        page = await self.outlook(
            "GET",
            f"/users/{mailbox}/calendarView",
            params={
                "startDateTime": today.isoformat(),
                "endDateTime": (today + timedelta(days=40)).isoformat(),
                "$top": "200",
            },
            headers={"Prefer": 'outlook.timezone="W. Europe Standard Time"'},
        )
        return {e["subject"]: e for e in page["value"]}

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.erp.request(method, path.lstrip("/"), **kwargs)
        response.raise_for_status()
        return dict(response.json()) if response.content else {}

    async def new_activity(self, **fields: Any) -> dict[str, Any]:
        start, end = fields.pop("start"), fields.pop("end")
        body = {
            "start": start.replace(tzinfo=None).isoformat(),
            "end": end.replace(tzinfo=None).isoformat(),
            "timeZone": "Europe/Oslo",
            "state": "confirmed",
            **fields,
        }
        return await self.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": fields["subject"]})

    async def edit_activity(self, activity_id: str, **patch: Any) -> dict[str, Any]:
        current = await self.erp_call("GET", f"/activities/{activity_id}")
        return await self.erp_call(
            "PATCH", f"/activities/{activity_id}", json=patch, headers={"If-Match": f'"{current["version"]}"'}
        )

    async def void_activity(self, activity_id: str) -> None:
        current = await self.erp_call("GET", f"/activities/{activity_id}")
        await self.erp_call("POST", f"/activities/{activity_id}/void", headers={"If-Match": f'"{current["version"]}"'})

    async def activities(self, owner: str) -> dict[str, dict[str, Any]]:
        page = await self.erp_call("GET", "/activity-changes", params={"userId": owner, "limit": "200"})
        return {c["activity"]["subject"]: c["activity"] for c in page["items"] if c.get("activity")}


def _seed_erp(store: Any) -> None:
    seed_store(
        store,
        {
            "users": [
                {
                    "id": "U-ALICE",
                    "displayName": "Alice Adams",
                    "email": ALICE,
                    "enabled": True,
                    "defaultCompanyId": "C-OWN",
                    "defaultLocationId": "L-HQ",
                    "timeZone": "Europe/Oslo",
                },
                {
                    "id": "U-BOB",
                    "displayName": "Bob Berg",
                    "email": BOB,
                    "enabled": True,
                    "defaultCompanyId": "C-OWN",
                    "defaultLocationId": "L-HQ",
                    "timeZone": "Europe/Oslo",
                },
            ],
            "companies": [
                {"id": "C-OWN", "name": "Contoso", "email": "info@contoso.example"},
                {"id": "C-FAB", "name": "Fabrikam", "email": "office@fabrikam.example"},
            ],
            "contacts": [
                {
                    "id": "P-FRIDA",
                    "name": "Frida Fabrikam",
                    "email": "frida@fabrikam.example",
                    "phone": "+47 400 00 001",
                    "companyId": "C-FAB",
                }
            ],
            "facilities": [
                {
                    "id": "F-FJORD",
                    "name": "Fjord meeting room",
                    "roomMailbox": "fjord@contoso.example",
                    "allowsNoSpecifiedTime": True,
                }
            ],
        },
    )


async def _settle(host: LocalFunctionsHost, *, quiet_seconds: float = 1.5, limit: float = 60.0) -> None:
    """Let notifications and hook calls arrive and the queue run dry, until nothing new happens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    seen, quiet_since = -1, loop.time()
    while loop.time() < deadline:
        await host.drain_queues(timeout=limit)
        if len(host.invocations) != seen:
            seen, quiet_since = len(host.invocations), loop.time()
        elif loop.time() - quiet_since >= quiet_seconds:
            return
        await asyncio.sleep(0.25)


def _line(direction: str, what: str, detail: str) -> str:
    return f"  {direction:<10} {what:<9} {detail}"


async def run_demo(*, keep_running: bool) -> int:
    today = datetime.now(ZONE).date()
    day = [today + timedelta(days=n) for n in range(8)]
    with running_azurite() as storage:
        graph_port, erp_port, functions_port = _free_port(), _free_port(), _free_port()
        functions_url = f"http://127.0.0.1:{functions_port}"
        graph_app = create_graph()
        erp_app = create_erp(
            ":memory:", api_key=ERP_KEY, hook_url=f"{functions_url}/api/erp/hook", hook_secret=HOOK_SECRET
        )
        async with _serve(graph_app, graph_port) as graph_url, _serve(erp_app, erp_port) as erp_url:
            environ = {
                "AzureWebJobsStorage": storage,
                "GRAPH_TENANT_ID": TENANT,
                "GRAPH_CLIENT_ID": "calendar-sync",
                "GRAPH_CLIENT_SECRET": "demo-secret",
                "GRAPH_CLIENT_STATE": "demo-client-state-0123456789",
                "GRAPH_BASE_URL": f"{graph_url}/v1.0",
                "GRAPH_AUTHORITY_HOST": graph_url,
                "GRAPH_NOTIFICATION_URL": f"{functions_url}/api/graph/notifications",
                "GRAPH_LIFECYCLE_URL": f"{functions_url}/api/graph/lifecycle",
                "ERP_BASE_URL": erp_url,
                "ERP_API_KEY": ERP_KEY,
                "ERP_HOOK_SECRET": HOOK_SECRET,
                "SYNC_INTERNAL_DOMAINS": "contoso.example",
                "SYNC_LEAVE_REQUESTS": "true",
                "STATUS_PAGE_KEY": demo_status.STATUS_KEY,
            }
            async with (
                httpx.AsyncClient(base_url=graph_url, timeout=30) as graph,
                httpx.AsyncClient(
                    base_url=erp_url + "/", timeout=30, headers={"Authorization": f"Bearer {ERP_KEY}"}
                ) as erp,
            ):
                for mail, name, kind in (
                    (ALICE, "Alice Adams", "user"),
                    (BOB, "Bob Berg", "user"),
                    ("fjord@contoso.example", "Fjord meeting room", "room"),
                    *demo_status.graph_users(),
                ):
                    (
                        await graph.post(
                            "/_emulator/users",
                            json={"mail": mail, "displayName": name, "kind": kind, "hasMailbox": True},
                        )
                    ).raise_for_status()
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
                demo_status.seed_erp(erp_app.state.store)
                person = Person(graph, erp)

                print(
                    "Local stack: Graph emulator", graph_url, "| reference ERP", erp_url, "| functions", functions_url
                )
                # Before the service runs: what people already have.
                visit = await person.new_event(
                    ALICE,
                    "Customer visit at Fabrikam",
                    _at(day[1], 10),
                    60,
                    attendees=[
                        {"type": "required", "emailAddress": {"address": "frida@fabrikam.example", "name": "Frida"}}
                    ],
                    text="Discuss the new price list",
                )
                await person.new_event(ALICE, "Dentist", _at(day[2], 8), 45, sensitivity="private")
                supplier = await person.new_event(BOB, "Supplier call", _at(day[2], 15), 30)
                quote = await person.new_activity(
                    type="task",
                    subject="Create a quote",
                    ownerId="U-ALICE",
                    start=_at(day[1], 14),
                    end=_at(day[1], 15),
                    description="40 units, delivery in January",
                    contactIds=["P-FRIDA"],
                    companyId="C-FAB",
                    participants=[
                        {
                            "email": "frida@fabrikam.example",
                            "name": "Frida Fabrikam",
                            "kind": "contact",
                            "refId": "P-FRIDA",
                        }
                    ],
                )
                review = await person.new_activity(
                    type="meeting",
                    subject="Quarterly review",
                    ownerId="U-BOB",
                    start=_at(day[3], 10),
                    end=_at(day[3], 11),
                    companyId="C-FAB",
                    location="Fabrikam office",
                )

                carl_events = await demo_status.stage_before_sync(person, today)
                closeable = await demo_daily.stage_before_sync(person, today)
                host = LocalFunctionsHost(
                    "function_app:app",
                    environ=environ,
                    app_dir=ROOT,
                    host_json={
                        "version": "2.0",
                        "extensions": {
                            "queues": {
                                "messageEncoding": "base64",
                                "visibilityTimeout": "00:00:01",
                                "maxDequeueCount": 5,
                            }
                        },
                    },
                )
                async with host.serving(port=functions_port):
                    await host.run_timer("maintain_subscriptions")  # Graph validates our endpoint first
                    await host.run_timer("safety_net")  # queues a first (initial, R4) sync per user
                    await _settle(host)
                    initial_events = {**await person.events(ALICE), **await person.events(BOB)}
                    initial_acts = {**await person.activities("U-ALICE"), **await person.activities("U-BOB")}

                    print("\n1. Initial sync (today + one month, R4)")
                    for subject in ("Customer visit at Fabrikam", "Supplier call"):
                        act = initial_acts.get(subject)
                        print(
                            _line(
                                "M365→ERP",
                                "created" if act else "MISSING",
                                f"{subject!r} → ERP {act['type'] if act else '-'} {act['id'] if act else ''}",
                            )
                        )
                    for subject in ("Task: Create a quote", "Meeting: Quarterly review – Fabrikam"):
                        print(_line("ERP→M365", "created" if subject in initial_events else "MISSING", repr(subject)))
                    task_body = initial_events.get("Task: Create a quote", {}).get("body", {}).get("content", "")
                    r19 = "Frida Fabrikam, Fabrikam" in task_body and "Open activity: " in task_body
                    print(
                        _line(
                            "ERP→M365",
                            "body" if r19 else "MISSING",
                            "the task event names Frida and links to the ERP activity (R19)",
                        )
                    )
                    print(_line("skipped", "private", "'Dentist' stays out of the ERP (R25)"))

                    # People at work: Outlook and the ERP, while the service listens.
                    await person.outlook(
                        "PATCH",
                        f"/users/{ALICE}/events/{visit['id']}",
                        json={
                            "start": {
                                "dateTime": _at(day[1], 11).replace(tzinfo=None).isoformat(),
                                "timeZone": "W. Europe Standard Time",
                            },
                            "end": {
                                "dateTime": _at(day[1], 12).replace(tzinfo=None).isoformat(),
                                "timeZone": "W. Europe Standard Time",
                            },
                        },
                    )
                    await person.outlook("DELETE", f"/users/{BOB}/events/{supplier['id']}")
                    await person.new_event(
                        ALICE,
                        "Lunch with Frida",
                        _at(day[4], 12),
                        60,
                        attendees=[
                            {"type": "required", "emailAddress": {"address": "frida@fabrikam.example", "name": "Frida"}}
                        ],
                    )
                    await person.edit_activity(review["id"], location="Fjord meeting room")
                    await person.void_activity(quote["id"])
                    await person.new_activity(
                        type="phone_call",
                        subject="Call Nils about delivery",
                        ownerId="U-BOB",
                        start=_at(day[5], 9),
                        end=_at(day[5], 9, 15),
                    )
                    await _settle(host)

                    events = {**await person.events(ALICE), **await person.events(BOB)}
                    acts = {**await person.activities("U-ALICE"), **await person.activities("U-BOB")}
                    visit_act = acts.get("Customer visit at Fabrikam", {})
                    review_event = events.get("Meeting: Quarterly review – Fabrikam", {})
                    checks = [
                        ("ERP→M365", "body", "the task event named its contact and linked to the ERP (R19)", r19),
                        (
                            "M365→ERP",
                            "created",
                            "'Lunch with Frida' is an ERP meeting",
                            acts.get("Lunch with Frida", {}).get("type") == "meeting",
                        ),
                        (
                            "M365→ERP",
                            "updated",
                            "'Customer visit at Fabrikam' moved to 11:00",
                            str(visit_act.get("start", "")).endswith("11:00:00"),
                        ),
                        (
                            "M365→ERP",
                            "voided",
                            "'Supplier call' deleted in Outlook → voided (R8)",
                            acts.get("Supplier call", {}).get("state") == "voided",
                        ),
                        (
                            "ERP→M365",
                            "created",
                            "'Phone call: Call Nils about delivery' in Bob's calendar",
                            "Phone call: Call Nils about delivery" in events,
                        ),
                        (
                            "ERP→M365",
                            "updated",
                            "Quarterly review now in the Fjord meeting room",
                            (review_event.get("location") or {}).get("displayName") == "Fjord meeting room",
                        ),
                        (
                            "ERP→M365",
                            "deleted",
                            "'Task: Create a quote' voided in the ERP → gone (R8)",
                            "Task: Create a quote" not in events and "Task: Create a quote" in initial_events,
                        ),
                        ("skipped", "private", "'Dentist' never reached the ERP (R25)", "Dentist" not in acts),
                    ]
                    print("\n2. Changes made by people, synced through notifications and the ERP hook")
                    for direction, what, detail, ok in checks[1:]:  # the first was shown with the initial sync
                        print(_line(direction, what if ok else "FAILED", detail))
                    jobs = await demo_daily.run_jobs(person, host, lambda: _settle(host), closeable=closeable)
                    print("\n2b. Leave requests, and the nightly jobs fired now (R29, R30)")
                    for direction, what, detail, ok in jobs:
                        print(_line(direction, what if ok else "FAILED", detail))
                    checks += jobs
                    series = await demo_series.run_series(person, today, lambda: _settle(host))
                    print("\n2c. A recurring meeting each way, one occurrence moved on each side (R28)")
                    for direction, what, detail, ok in series:
                        print(_line(direction, what if ok else "FAILED", detail))
                    checks += series
                    failed_runs = [i for i in host.invocations if not i.succeeded]
                    issues = await _open_issues()
                    print(
                        f"\nFunction runs: {len(host.invocations)} ({len(failed_runs)} failed); "
                        f"issues for the admin: {issues}"
                    )
                    passed = sum(ok for *_, ok in checks)
                    print(f"Checks: {passed} of {len(checks)} passed")
                    await demo_status.stage_problems(person, today, carl_events, lambda: _settle(host))
                    shown = await demo_status.check_page(functions_url)
                    print(f"\n3. The admin's status page: {functions_url}/api/status (key {demo_status.STATUS_KEY})")
                    for what, ok in shown:
                        print(_line("status", "shown" if ok else "MISSING", what))
                    await close_services()
                    if keep_running:
                        print(
                            f"\nThe stack stays up (Ctrl-C stops it). ERP page: {erp_url}/  "
                            f"Graph emulator: {graph_url}/_emulator/requests\n"
                            f"Status page: {functions_url}/api/status (enter the key {demo_status.STATUS_KEY})"
                        )
                        with contextlib.suppress(asyncio.CancelledError):
                            while True:
                                await _settle(host, quiet_seconds=0.5)
                                await asyncio.sleep(1)
                    page_ok = all(ok for _, ok in shown)
                    return 0 if passed == len(checks) and page_ok and not failed_runs else 1


async def _open_issues() -> int:
    """Issues recorded for the admin during the demo (R31), read back through the service's own store."""
    return len(await (await services()).state.open_issues())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep-running", action="store_true", help="leave the local stack up afterwards")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The ERP's first hook calls may come before the functions host listens; it retries them, as it should.
    logging.getLogger("stamina").setLevel(logging.ERROR)
    # SIGTERM stops the stack like Ctrl-C: servers closed, Azurite (its own process group) stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(run_demo(keep_running=args.keep_running))
    except KeyboardInterrupt:
        return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
