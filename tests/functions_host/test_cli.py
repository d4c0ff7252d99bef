"""The CLI: ``python -m emulators.functions_host`` serves, polls and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest
from azure.storage.queue.aio import QueueClient

ROOT = Path(__file__).resolve().parents[2]

APP_SOURCE = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


    @app.route(route="greeting", methods=["GET"])
    def greeting(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(os.environ["GREETING"])


    @app.queue_trigger(arg_name="msg", queue_name=os.environ["WORK_QUEUE"], connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage) -> None:
        Path(os.environ["DONE_FILE"]).write_bytes(msg.get_body())
    """
)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_cli_serves_http_polls_queues_and_stops_on_signal(
    tmp_path: Path, azurite_connection_string: str, stop_signal: signal.Signals
) -> None:
    """The CLI reads local.settings.json and host.json, serves and polls until SIGTERM/SIGINT, then exits 0 with
    nothing left listening (Core Tools `func start` behaviour, local settings file format)."""
    queue_name = f"fh-cli-{uuid.uuid4().hex[:10]}"
    done_file = tmp_path / "done.txt"
    (tmp_path / "cli_app.py").write_text(APP_SOURCE)
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": "fn"}}}))
    settings = {
        "AzureWebJobsStorage": azurite_connection_string,
        "GREETING": "hello from settings",
        "WORK_QUEUE": queue_name,
        "DONE_FILE": str(done_file),
    }
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": settings}))
    errors = (tmp_path / "stderr.txt").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulators.functions_host",
        "--app", "cli_app:app", "--app-dir", str(tmp_path), "--port", "0",
        "--env-file", str(tmp_path / "local.settings.json"), "--poll-interval", "0.1",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=errors,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first_line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert first_line.startswith("Functions host listening on "), first_line
        base_url = first_line.rsplit(" ", 1)[1].strip()
        async with httpx.AsyncClient(base_url=base_url) as client:
            answer = await client.get("/fn/greeting")
        assert (answer.status_code, answer.text) == (200, "hello from settings")

        async with QueueClient.from_connection_string(azurite_connection_string, queue_name) as queue:
            await queue.create_queue()
            await queue.send_message(base64.b64encode(b"queued work").decode())
        async with asyncio.timeout(20):
            while not done_file.exists():  # noqa: ASYNC110 - written by another process, no Event to share
                await asyncio.sleep(0.1)
        assert done_file.read_bytes() == b"queued work"

        process.send_signal(stop_signal)
        return_code = await asyncio.wait_for(process.wait(), timeout=20)
        rest = (await process.stdout.read()).decode()
        assert return_code == 0, (tmp_path / "stderr.txt").read_text()
        assert "Functions host stopped" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        errors.close()
    port = int(base_url.rsplit(":", 1)[1])
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    writer.close()
    raise AssertionError(f"port {port} still accepts connections after the CLI stopped")
