"""The emulator as a standalone server driven with plain HTTP, as emulators/graph/README.md describes."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.graph_emulator.helpers import Receiver

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    for _ in range(200):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture
def server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter running the emulator module
        [sys.executable, "-m", "emulators.graph", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/_emulator/settings", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def local_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        while not srv.started:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", receiver
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_plain_http_walkthrough(server: str, local_receiver: tuple[str, Receiver]) -> None:
    """Create a user, get a token, create an event, read a delta and subscribe a receiver over real HTTP (https://learn.microsoft.com/en-us/graph/webhooks)."""
    hook_base, receiver = local_receiver
    with httpx.Client(base_url=server, timeout=10) as c:
        user = c.post("/_emulator/users", json={"mail": "amy@contoso.com", "displayName": "Amy"}).json()["id"]
        token = c.post(
            "/contoso/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "demo",
                "client_secret": "x",
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        created = c.post(
            f"/v1.0/users/{user}/events",
            json={
                "subject": "Hello",
                "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-12-01T11:00:00", "timeZone": "UTC"},
            },
        )
        assert created.status_code == 201
        page = c.get(
            f"/v1.0/users/{user}/calendarView/delta",
            params={"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2026-12-31T00:00:00Z"},
        ).json()
        seen = list(page["value"])
        while "@odata.nextLink" in page:
            assert page["@odata.nextLink"].startswith(server)
            page = c.get(page["@odata.nextLink"]).json()
            seen += page["value"]
        assert [e["subject"] for e in seen] == ["Hello"]
        sub = c.post(
            "/v1.0/subscriptions",
            json={
                "changeType": "created,updated,deleted",
                "notificationUrl": f"{hook_base}/hook",
                "resource": f"/users/{user}/events",
                "expirationDateTime": "2099-01-01T00:00:00Z",
            },
        )
        assert sub.status_code == 400  # too far in the future: Graph caps the lifetime
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        sub = c.post(
            "/v1.0/subscriptions",
            json={
                "changeType": "created,updated,deleted",
                "notificationUrl": f"{hook_base}/hook",
                "resource": f"/users/{user}/events",
                "expirationDateTime": expiry,
                "clientState": "cs",
            },
        )
        assert sub.status_code == 201, sub.text
        c.patch(f"/v1.0/users/{user}/events/{created.json()['id']}", json={"subject": "Hello again"})
        assert c.post("/_emulator/notifications/drain", params={"timeout": "10"}).status_code == 204
    assert len(receiver.validations) == 1
    assert [(n["changeType"], n["clientState"]) for n in receiver.notifications] == [("updated", "cs")]
