"""The reference ERP as a program: its command line, its page for people, its auth, and hooks that never block."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from emulators.erp import create_app, seed_store
from shared.core.activities import ActivityFields, ActivityType, OccurrenceException, Origin, Recurrence
from shared.erp.http_client import HttpErp
from tests.erp.conftest import API_KEY, SEED, RunningErp, free_port, serving

ROOT = Path(__file__).resolve().parents[2]


async def test_home_page_lists_activities_for_a_person(http_erp: HttpErp, erp_server: RunningErp) -> None:
    """The page at / shows each activity's subject, type, state, times, owner and origin, without an API key."""
    fields = ActivityFields(
        type=ActivityType.PHONE_CALL,
        subject="Call <Frida> & co",
        start=datetime(2026, 12, 2, 13),
        end=datetime(2026, 12, 2, 13, 15),
        time_zone="Europe/Oslo",
        owner_id="U1",
        origin=Origin(mailbox="alice@contoso.example", event_id="AAMk9"),
    )
    created = await http_erp.create_activity(fields, idempotency_key="page-1")
    async with httpx.AsyncClient(base_url=erp_server.base_url) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Call &lt;Frida&gt; &amp; co" in html
    assert "<Frida>" not in html
    for text in (
        "phone_call",
        "confirmed",
        "2026-12-02 13:00:00",
        "Europe/Oslo",
        "Alice (U1)",
        "M365 alice@contoso.example",
    ):
        assert text in html
    assert f'id="activity-{created.id}"' in html


async def test_api_without_bearer_key_is_unauthorized(erp_server: RunningErp) -> None:
    """Every API path needs `Authorization: Bearer <key>`; without it 401 with WWW-Authenticate (RFC 6750 §3)."""
    async with httpx.AsyncClient(base_url=erp_server.base_url) as client:
        answer = await client.get("/users")
        wrong = await client.get("/users", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert wrong.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["type"].endswith("/unauthorized")
    assert API_KEY not in answer.text


async def test_write_succeeds_when_the_hook_receiver_is_down() -> None:
    """A hook URL nobody answers never fails or holds up the write; the call is given up after its retries."""
    app = create_app(":memory:", api_key=API_KEY, hook_url=f"http://127.0.0.1:{free_port()}/hook", hook_secret="s")
    app.state.hooks.attempts = 2  # fewer retries keep the test short; retrying itself is tested elsewhere
    seed_store(app.state.store, SEED)
    with serving(app) as base:
        async with HttpErp(base, api_key=API_KEY) as erp:
            created = await erp.create_activity(
                ActivityFields(
                    type=ActivityType.TASK,
                    subject="Quote",
                    start=datetime(2026, 12, 1, 9),
                    end=datetime(2026, 12, 1, 10),
                    owner_id="U1",
                ),
                idempotency_key="down-1",
            )
            assert (await erp.get_activity(created.id)).subject == "Quote"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            stats = (await client.get("/_erp/hooks")).json()
    assert stats == {"delivered": 0, "failed": 1}


def test_create_app_refuses_a_hook_url_without_secret() -> None:
    """Unsigned hook calls would be useless to a receiver that verifies them, so the ERP will not start so."""
    with pytest.raises(ValueError, match="hook_secret"):
        create_app(":memory:", api_key="k", hook_url="http://127.0.0.1:1/hook")


def _wait_listening(port: int, deadline: float, process: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the reference ERP exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError("the reference ERP did not listen")


@contextlib.contextmanager
def _cli_server(*args: str) -> Iterator[str]:
    """`python -m emulators.erp --port <free> ARGS` with ERP_API_KEY=cli-key; yields its base URL, stopped after."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - this interpreter with fixed arguments
        [sys.executable, "-m", "emulators.erp", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, "ERP_API_KEY": "cli-key"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_listening(port, time.monotonic() + 20, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def cli_erp(tmp_path: Path) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """The demo seed written by `python -m emulators.erp seed`, served by `python -m emulators.erp`; stopped after."""
    db = tmp_path / "erp.sqlite"
    seeded = subprocess.run(  # noqa: S603 - this interpreter with fixed arguments
        [sys.executable, "-m", "emulators.erp", "seed", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    )
    with _cli_server("--db", str(db)) as base:
        yield base, json.loads(seeded.stdout)


async def test_command_line_seeds_a_file_then_serves_it(cli_erp: tuple[str, dict[str, list[str]]]) -> None:
    """`python -m emulators.erp seed` fills a SQLite file that `python -m emulators.erp --db` then serves."""
    base, created = cli_erp
    assert len(created["activities"]) == 3
    async with HttpErp(base, api_key="cli-key") as erp:
        users = await erp.list_users()
        facilities = await erp.list_facilities()
        released = await erp.get_activity(created["activities"][2])
    assert [user.id for user in users] == ["U-ALICE", "U-BOB", "U-DANA"]
    assert {facility.id for facility in facilities} == {"F-FJORD", "F-LAB"}
    assert released.read_only
    async with httpx.AsyncClient(base_url=base) as client:
        assert "Quarterly review" in (await client.get("/")).text


async def test_command_line_no_series_serves_an_erp_without_recurring_series() -> None:
    """`python -m emulators.erp --no-series` is an ERP as many are, without series: GET /capabilities says so and
    a recurring activity is refused, so the sync's one-activity-per-occurrence path can be tried end to end (R28)."""
    with _cli_server("--db", ":memory:", "--no-series") as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer cli-key"}) as client:
            answer = await client.get("/capabilities")
    assert answer.status_code == 200
    assert answer.json() == {"series": False, "attachments": True, "maxAttachmentBytes": 25 * 1024 * 1024}


async def test_command_line_sets_the_largest_file_an_activity_takes() -> None:
    """`python -m emulators.erp --max-attachment-bytes N` declares and keeps that limit (R18); 0 is an ERP without
    files."""
    with _cli_server("--db", ":memory:", "--max-attachment-bytes", "1000") as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer cli-key"}) as client:
            limited = (await client.get("/capabilities")).json()
    with _cli_server("--db", ":memory:", "--max-attachment-bytes", "0") as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer cli-key"}) as client:
            without = (await client.get("/capabilities")).json()
    assert (limited["attachments"], limited["maxAttachmentBytes"]) == (True, 1000)
    assert (without["attachments"], without["maxAttachmentBytes"]) == (False, 0)


async def test_home_page_shows_a_series_pattern_and_exceptions_in_one_line(
    http_erp: HttpErp, erp_server: RunningErp
) -> None:
    """A recurring activity's row on / tells a person its pattern, range and exceptions in one line (R28)."""
    fields = ActivityFields(
        type=ActivityType.MEETING,
        subject="Project check-in",
        start=datetime(2026, 12, 3, 10),
        end=datetime(2026, 12, 3, 11),
        time_zone="Europe/Oslo",
        owner_id="U1",
        recurrence=Recurrence.model_validate(
            {
                "pattern": {"type": "weekly", "daysOfWeek": ["thursday"]},
                "range": {"type": "numbered", "startDate": "2026-12-03", "numberOfOccurrences": 10},
            }
        ),
        exceptions=(
            OccurrenceException(
                original_start=datetime(2026, 12, 10, 10),
                start=datetime(2026, 12, 11, 14),
                end=datetime(2026, 12, 11, 15),
                location="Lab <2>",
            ),
            OccurrenceException(original_start=datetime(2026, 12, 24, 10), cancelled=True),
        ),
    )
    await http_erp.create_activity(fields, idempotency_key="page-series")
    async with httpx.AsyncClient(base_url=erp_server.base_url) as client:
        html = (await client.get("/")).text
    line = (
        "every week on thursday, from 2026-12-03, 10 times; "
        "2026-12-10 10:00 moved to 2026-12-11 14:00 (location changed); 2026-12-24 10:00 cancelled"
    )
    assert f'<small class="series">{line}</small>' in html
