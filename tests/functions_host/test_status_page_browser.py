"""The status page in a real browser (issue 13, item 1): headless Chromium loads it from ``function_app.py`` on
the local Functions host (Azurite, the reference ERP on loopback), signs in with the key through the page's
own form, and shows what a person would see. A screenshot is left in the test's temporary folder."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest
import uvicorn

from emulators.erp.app import create_app as create_erp
from emulators.erp.seed import seed_store
from emulators.functions_host import LocalFunctionsHost
from shared.composition import close_services
from shared.state.model import Issue, IssueKind, JobRecord, RunRecord
from shared.state.tables import TableStateStore

ROOT = Path(__file__).resolve().parents[2]
KEY = "browser-test-status-key-0123456789"
ERP_KEY = "erp-browser-test-key-0123456789"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless Chromium is not installed (Debian package `chromium`; .ci/run installs it with apt-get)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _erp() -> AsyncIterator[str]:
    """The reference ERP on a loopback port, with two people, one of them without a default company (R2)."""
    app = create_erp(":memory:", api_key=ERP_KEY)
    seed_store(
        app.state.store,
        {
            "users": [
                {"id": "U-ANN", "displayName": "Ann Andersen", "email": "ann@contoso.example", "enabled": True,
                 "defaultCompanyId": "C-OWN", "defaultLocationId": "L-HQ", "timeZone": "Europe/Oslo"},
                {"id": "U-BEN", "displayName": "Ben Berg", "email": "ben@contoso.example", "enabled": True,
                 "timeZone": "Europe/Oslo"},
            ],
            "companies": [{"id": "C-OWN", "name": "Contoso"}],
        },
    )  # fmt: skip
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _seed_state(conn: str, prefix: str) -> None:
    """What the admin must see: a conflict with the M365 version kept, a halted deletion, an unsyncable user,
    a last run, a job's last run."""
    now = datetime.now(UTC)
    async with TableStateStore.from_connection_string(conn, prefix=prefix) as state:
        await state.ensure_tables()
        await state.record_issue(
            Issue(user_id="U-ANN", key="item|E1|A1", kind=IssueKind.CONFLICT, event_id="E1", activity_id="A1",
                  reason="the ERP activity is released (read-only); the Outlook change was not applied (R7)",
                  payload=json.dumps({"subject": "Board meeting (moved) <b>now</b>"}), first_seen=now, last_seen=now)
        )  # fmt: skip
        await state.record_issue(
            Issue(user_id="U-ANN", key="mass-delete", kind=IssueKind.MASS_DELETE, first_seen=now, last_seen=now,
                  reason="m365 reported 5 of 6 linked items gone at once (R11)")
        )  # fmt: skip
        await state.record_issue(
            Issue(user_id="U-BEN", key="user", kind=IssueKind.UNSYNCABLE_USER, first_seen=now, last_seen=now,
                  reason="not syncable, missing: default company, default location (R2)")
        )  # fmt: skip
        await state.record_run(
            RunRecord(user_id="U-ANN", outcome="halted", started_at=now - timedelta(seconds=4), finished_at=now,
                      counts={"erp created": 6}, next_due=now + timedelta(minutes=15))
        )  # fmt: skip
        await state.record_job_run(JobRecord(name="safety_net", outcome="ok", at=now, counts={"count": 2}))


def _chromium(tmp: Path, target: str, *, output: str) -> str:
    """Headless Chromium on ``target``; ``output`` is ``--dump-dom`` (the DOM, returned) or a screenshot path."""
    assert CHROMIUM is not None
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=5000", "--window-size=1400,1800",
    ]  # fmt: skip
    shot = [] if output == "--dump-dom" else [f"--screenshot={output}"]
    done = subprocess.run(  # noqa: S603  # the system's Chromium, arguments built here
        [CHROMIUM, *flags, *(["--dump-dom"] if output == "--dump-dom" else shot), target],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _sign_in_page(tmp: Path, url: str) -> str:
    """A local page that submits the status page's own sign-in form with the key, as a person would."""
    page = tmp / "sign-in.html"
    page.write_text(
        f'<!doctype html><form method="post" action="{escape(url)}">'
        f'<input type="password" name="key" value="{escape(KEY)}"></form>'
        "<script>document.forms[0].submit()</script>",
        encoding="utf-8",
    )
    return page.as_uri()


async def test_an_admin_sees_the_sync_state_in_a_real_browser(azurite_connection_string: str, tmp_path: Path) -> None:
    """Without the key the browser shows only the key form; with it, the users and their last runs, the
    conflict with the M365 version kept, the halted deletion with its release button, the unsyncable user and
    the job; outside text shows as text, never as markup."""
    prefix = "b" + uuid.uuid4().hex[:12]
    await _seed_state(azurite_connection_string, prefix)
    async with _erp() as erp_url:
        environ = {
            "AzureWebJobsStorage": azurite_connection_string,
            "STATE_TABLE_PREFIX": prefix,
            "GRAPH_TENANT_ID": "contoso.example",
            "GRAPH_CLIENT_ID": "sync-app",
            "GRAPH_CLIENT_SECRET": "graph-secret",
            "GRAPH_CLIENT_STATE": "client-state-0123456789",
            "GRAPH_BASE_URL": "http://127.0.0.1:9/v1.0",  # never called by the page
            "GRAPH_AUTHORITY_HOST": "http://127.0.0.1:9",
            "ERP_BASE_URL": erp_url,
            "ERP_API_KEY": ERP_KEY,
            "ERP_HOOK_SECRET": "hook-secret-0123456789",
            "STATUS_PAGE_KEY": KEY,
        }
        host = LocalFunctionsHost("function_app:app", environ=environ, app_dir=ROOT)
        async with host.serving(port=0) as base_url:
            url = f"{base_url}/api/status"
            locked = await asyncio.to_thread(_chromium, tmp_path, url, output="--dump-dom")
            signed_in = _sign_in_page(tmp_path, url)
            dom = await asyncio.to_thread(_chromium, tmp_path, signed_in, output="--dump-dom")
            screenshot = tmp_path / "status-page.png"
            await asyncio.to_thread(_chromium, tmp_path, signed_in, output=str(screenshot))
        await close_services()  # the app's services, built on this event loop by the page's first request
    assert "Enter the status page key" in locked
    assert "Ann Andersen" not in locked
    for seen in (
        "Calendar sync status",
        "Ann Andersen",
        "Ben Berg",
        "halted",
        "erp created 6",
        "Conflicts (R7)",
        "the ERP activity is released (read-only)",
        "M365 version kept",
        "Board meeting (moved) &lt;b&gt;now&lt;/b&gt;",
        "Release the deletion",
        "not syncable, missing: default company",
        "safety_net",
    ):
        assert seen in dom, seen
    assert KEY not in dom
    assert screenshot.stat().st_size > 10_000
