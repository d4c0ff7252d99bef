"""What the local host indexes from a FunctionApp and reads from host.json and local.settings.json."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest

from emulators.functions_host import HostConfig, load_local_settings, read_functions
from emulators.functions_host.app_settings import EnvironmentOverlay
from emulators.functions_host.catalog import HttpTrigger, QueueTrigger, TimerTrigger
from emulators.functions_host.ncrontab import CronSchedule


def _app_with_blueprint() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    blueprint = func.Blueprint()

    @app.route(route="items/{id}", methods=["GET", "PUT"])
    def get_item(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("item")

    @blueprint.queue_trigger(arg_name="msg", queue_name="work-items", connection="WorkStorage")
    @blueprint.queue_output(arg_name="done", queue_name="done-items", connection="WorkStorage")
    def handle_work(msg: func.QueueMessage, done: func.Out[str]) -> None:
        done.set(msg.get_body().decode())

    @blueprint.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=True)
    def safety_net(timer: func.TimerRequest) -> None:
        return None

    app.register_functions(blueprint)
    return app


def test_functions_of_app_and_blueprint_are_indexed_with_their_triggers() -> None:
    """Each function's trigger settings come from get_functions() (Python v2 model, blueprints registered)."""
    functions = {function.name: function for function in read_functions(_app_with_blueprint())}
    http, queue, timer = (
        functions["get_item"].trigger,
        functions["handle_work"].trigger,
        functions["safety_net"].trigger,
    )
    assert isinstance(http, HttpTrigger)
    assert (http.route.template, http.methods, http.auth_level) == ("items/{id}", ("GET", "PUT"), "function")
    assert isinstance(queue, QueueTrigger)
    assert (queue.name, queue.queue_name, queue.connection) == ("msg", "work-items", "WorkStorage")
    assert [(o.name, o.queue_name) for o in functions["handle_work"].queue_outputs] == [("done", "done-items")]
    assert isinstance(timer, TimerTrigger)
    assert isinstance(timer.schedule, CronSchedule)
    assert (timer.schedule.expression, timer.run_on_startup) == ("0 */5 * * * *", True)


def test_http_function_without_route_is_served_under_its_name_for_all_methods() -> None:
    """With no route, the function name is the route and every method is accepted (Functions HTTP trigger)."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.function_name("Ping")
    @app.route()
    def ping(req: func.HttpRequest) -> str:
        return "pong"

    (function,) = read_functions(app)
    assert isinstance(function.trigger, HttpTrigger)
    assert function.trigger.route.template == "Ping"
    assert {"GET", "POST", "DELETE"} <= set(function.trigger.methods)


def test_host_json_defaults_match_the_real_host() -> None:
    """Defaults: routePrefix api, base64, maxDequeueCount 5, visibilityTimeout 0, batchSize 16 (host.json reference)."""
    config = HostConfig.load(None)
    assert config.route_prefix == "api"
    assert config.queues.message_encoding == "base64"
    assert config.queues.max_dequeue_count == 5
    assert config.queues.visibility_timeout == timedelta(0)
    assert config.queues.batch_size == 16


def test_host_json_values_are_read(tmp_path: Path) -> None:
    """routePrefix and the queues section of host.json 2.0 are honoured (host.json reference)."""
    host_json = tmp_path / "host.json"
    host_json.write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "http": {"routePrefix": ""},
                    "queues": {"maxDequeueCount": 2, "visibilityTimeout": "00:00:01.5", "messageEncoding": "none"},
                },
            }
        )
    )
    config = HostConfig.load(host_json)
    assert config.route_prefix == ""
    assert config.queues.max_dequeue_count == 2
    assert config.queues.visibility_timeout == timedelta(seconds=1.5)
    assert config.queues.message_encoding == "none"


def test_local_settings_values_become_string_settings(tmp_path: Path) -> None:
    """local.settings.json ``Values`` are the app settings, as strings (Core Tools local settings file)."""
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "x", "FLAG": True, "N": 3}}))
    assert load_local_settings(path) == {"A": "x", "FLAG": "true", "N": "3"}


def test_encrypted_local_settings_are_refused(tmp_path: Path) -> None:
    """An encrypted local.settings.json cannot be read without the Core Tools' key."""
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": True, "Values": {}}))
    with pytest.raises(ValueError, match="encrypted"):
        load_local_settings(path)


def test_settings_overlay_sets_and_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings are in os.environ while applied (nested too) and previous values come back afterwards."""
    monkeypatch.setenv("FH_EXISTING", "before")
    monkeypatch.delenv("FH_NEW", raising=False)
    overlay = EnvironmentOverlay({"FH_EXISTING": "during", "FH_NEW": "added"})
    with overlay.applied():
        with overlay.applied():
            assert (os.environ["FH_EXISTING"], os.environ["FH_NEW"]) == ("during", "added")
        assert os.environ["FH_NEW"] == "added"
    assert os.environ["FH_EXISTING"] == "before"
    assert "FH_NEW" not in os.environ
