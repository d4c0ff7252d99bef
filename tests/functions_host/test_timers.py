"""Timer functions run on demand, through the admin endpoint, and on their schedule."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import azure.functions as func
import httpx
import pytest

from emulators.functions_host import LocalFunctionsHost


def _timer_app(
    fired: list[dict[str, Any]],
    *,
    schedule: str = "0 0 3 * * *",
    run_on_startup: bool = False,
    fired_twice: asyncio.Event | None = None,
) -> func.FunctionApp:
    app = func.FunctionApp()
    blueprint = func.Blueprint()

    @blueprint.timer_trigger(schedule=schedule, arg_name="timer", run_on_startup=run_on_startup)
    async def safety_net(timer: func.TimerRequest) -> None:
        fired.append({"past_due": timer.past_due, "status": timer.schedule_status, "env": os.environ.get("FH_MODE")})
        if fired_twice is not None and len(fired) >= 2:
            fired_twice.set()

    @blueprint.timer_trigger(schedule="0 0 4 * * *", arg_name="timer")
    def failing_timer(timer: func.TimerRequest) -> None:
        raise RuntimeError("timer failed")

    app.register_functions(blueprint)
    return app


async def test_run_timer_runs_now_with_a_timer_request_and_the_settings() -> None:
    """run_timer awaits the function, which gets a TimerRequest (past_due False) and sees the app settings."""
    fired: list[dict[str, Any]] = []
    host = LocalFunctionsHost(_timer_app(fired), environ={"FH_MODE": "demo"})
    await host.run_timer("safety_net")
    assert len(fired) == 1
    assert fired[0]["past_due"] is False
    assert fired[0]["env"] == "demo"
    assert fired[0]["status"]["Next"].endswith("03:00:00+00:00")
    assert "FH_MODE" not in os.environ


async def test_run_timer_propagates_the_function_exception() -> None:
    """A failing timer run raises to the caller of run_timer and is recorded as failed."""
    host = LocalFunctionsHost(_timer_app([]))
    with pytest.raises(RuntimeError, match="timer failed"):
        await host.run_timer("failing_timer")
    assert [(i.function_name, i.trigger, i.succeeded) for i in host.invocations] == [("failing_timer", "timer", False)]


async def test_admin_endpoint_answers_202_and_runs_the_function() -> None:
    """POST /admin/functions/{name} with {"input": ""} answers 202 and runs it
    (learn.microsoft.com/azure/azure-functions/functions-manually-run-non-http)."""
    fired: list[dict[str, Any]] = []
    host = LocalFunctionsHost(_timer_app(fired))
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post("/admin/functions/Safety_Net", json={"input": ""})
        await host.wait_for_admin_runs()
    assert answer.status_code == 202
    assert len(fired) == 1


async def test_admin_endpoint_for_unknown_function_is_404() -> None:
    """The admin endpoint answers 404 for a function the host did not index."""
    host = LocalFunctionsHost(_timer_app([]))
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post("/admin/functions/nope", json={"input": ""})
    assert answer.status_code == 404


async def test_admin_endpoint_passes_input_to_a_queue_function() -> None:
    """A manual run of a queue function passes the input text as the message body (manually run non-HTTP)."""
    app = func.FunctionApp()
    bodies: list[str] = []

    @app.queue_trigger(arg_name="msg", queue_name="unused-queue", connection="AzureWebJobsStorage")
    def on_message(msg: func.QueueMessage) -> None:
        bodies.append(msg.get_body().decode())

    host = LocalFunctionsHost(app)
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post("/admin/functions/on_message", json={"input": '{"n": 5}'})
        await host.wait_for_admin_runs()
    assert answer.status_code == 202
    assert bodies == ['{"n": 5}']


async def test_schedule_and_run_on_startup_fire_while_serving() -> None:
    """With run_schedules, runOnStartup fires at once and a per-second NCRONTAB keeps firing (timer trigger)."""
    fired: list[dict[str, Any]] = []
    fired_twice = asyncio.Event()
    host = LocalFunctionsHost(_timer_app(fired, schedule="* * * * * *", run_on_startup=True, fired_twice=fired_twice))
    async with host.serving(port=0, run_schedules=True):
        await asyncio.wait_for(fired_twice.wait(), timeout=10)
    count = len(fired)
    await asyncio.sleep(1.2)
    assert count >= 2
    assert len(fired) == count, "the schedule kept firing after the host stopped"
