"""What the Azure Functions host will index from function_app.py (issue 2, item 10)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from enum import Enum
from functools import cache
from pathlib import Path
from types import ModuleType
from unittest import mock

from tests.app.test_settings import VALID

ROOT = Path(__file__).resolve().parents[2]


def _function_app() -> ModuleType:
    """``function_app`` imported as the host does, with valid app settings (it checks them at import)."""
    with mock.patch.dict(os.environ, VALID):
        return importlib.import_module("function_app")


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else str(value)


@cache
def _functions() -> dict[str, dict[str, object]]:
    indexed = {}
    # A second get_functions() on one app reports every name as a duplicate (the host indexes once per
    # process); the local host in the same test session indexes this app too.
    app = _function_app().app
    app.functions_bindings = {}
    for function in app.get_functions():
        trigger = function.get_trigger()
        indexed[function.get_function_name()] = json.loads(json.dumps(trigger.get_dict_repr(), default=_plain))
    return indexed


def test_the_host_indexes_exactly_the_functions_of_the_design() -> None:
    """Two Graph webhooks, the ERP hook, the per-user queue worker, the timers, the status page and the health
    check; nothing else."""
    assert set(_functions()) >= {
        "graph_notifications",
        "graph_lifecycle",
        "erp_change_hook",
        "sync_user",
        "safety_net",
        "maintain_subscriptions",
        "status_page",
        "health",
    }


def test_http_functions_have_their_routes_methods_and_anonymous_auth() -> None:
    """Graph and the ERP cannot send function keys; each endpoint authenticates its caller itself."""
    functions = _functions()
    expected = {
        "graph_notifications": "graph/notifications",
        "graph_lifecycle": "graph/lifecycle",
        "erp_change_hook": "erp/hook",
    }
    for name, route in expected.items():
        trigger = functions[name]
        assert trigger["type"] == "httpTrigger"
        assert trigger["route"] == route
        assert trigger["methods"] == ["POST"]
        assert trigger["authLevel"] == "anonymous"


def test_queue_worker_reads_the_sync_queue_on_the_host_storage() -> None:
    """The per-user sync is fed by the sync-user queue through the AzureWebJobsStorage connection."""
    trigger = _functions()["sync_user"]
    assert trigger["type"] == "queueTrigger"
    assert trigger["queueName"] == "sync-user"
    assert trigger["connection"] == "AzureWebJobsStorage"


def test_timers_have_six_field_ncrontab_schedules() -> None:
    """R32: a safety-net delta run every 15 minutes and hourly subscription upkeep; neither runs on
    startup, where every instance that starts would run it at once, unleased."""
    functions = _functions()
    assert functions["safety_net"]["type"] == "timerTrigger"
    assert functions["safety_net"]["schedule"] == "0 */15 * * * *"
    assert functions["maintain_subscriptions"]["schedule"] == "0 5 * * * *"
    assert functions["safety_net"]["runOnStartup"] is False
    assert functions["maintain_subscriptions"]["runOnStartup"] is False


def test_host_json_keeps_the_base64_queue_encoding_the_queue_writer_uses() -> None:
    """The queue writer base64-encodes messages; host.json must decode them the same way."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["queues"]["messageEncoding"] == "base64"
    assert host["extensions"]["http"]["routePrefix"] == "api"


def test_the_status_page_and_health_check_are_anonymous_to_the_host_and_check_callers_themselves() -> None:
    """The status page authenticates every request itself (App Service sign-in or the key), so the host needs
    no function key; the health check is anonymous for Azure's probe and answers only ok or unavailable."""
    functions = _functions()
    assert (functions["status_page"]["route"], functions["status_page"]["methods"]) == ("status", ["GET", "POST"])
    assert (functions["health"]["route"], functions["health"]["methods"]) == ("health", ["GET"])
    assert functions["status_page"]["authLevel"] == functions["health"]["authLevel"] == "anonymous"


def _import_in_a_fresh_interpreter(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import function_app"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_invalid_settings_make_indexing_fail_with_the_one_settings_message() -> None:
    """Issue 13 item 5: the host imports function_app to index it; a bad setting fails that import with one
    SettingsError naming each bad setting (never a value), instead of every function failing later."""
    bad = {**VALID, "ERP_API_KEY": "short", "SYNC_DIRECTION": "sideways"}
    bad.pop("GRAPH_TENANT_ID")
    result = _import_in_a_fresh_interpreter(bad)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("shared.errors.SettingsError: Invalid app settings:"), result.stderr
    for name in ("GRAPH_TENANT_ID", "ERP_API_KEY", "SYNC_DIRECTION"):
        assert name in last_line
    assert "sideways" not in result.stderr
    assert "very-secret-value" not in result.stderr


def test_valid_settings_index_in_a_fresh_interpreter() -> None:
    """The same import with valid settings succeeds: the check at start costs nothing when all is well."""
    result = _import_in_a_fresh_interpreter(VALID)
    assert result.returncode == 0, result.stderr
