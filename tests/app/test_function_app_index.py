"""What the Azure Functions host will index from function_app.py (issue 2, item 10)."""

from __future__ import annotations

import json
from enum import Enum
from functools import cache
from pathlib import Path

import function_app

ROOT = Path(__file__).resolve().parents[2]


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else str(value)


@cache
def _functions() -> dict[str, dict[str, object]]:
    indexed = {}
    # A second get_functions() on one app reports every name as a duplicate (the host indexes once per
    # process); the local host in the same test session indexes this app too.
    function_app.app.functions_bindings = {}
    for function in function_app.app.get_functions():
        trigger = function.get_trigger()
        indexed[function.get_function_name()] = json.loads(json.dumps(trigger.get_dict_repr(), default=_plain))
    return indexed


def test_the_host_indexes_exactly_the_six_functions_of_the_design() -> None:
    """Two Graph webhooks, the ERP hook, the per-user queue worker and two timers; nothing else."""
    assert set(_functions()) == {
        "graph_notifications",
        "graph_lifecycle",
        "erp_change_hook",
        "sync_user",
        "safety_net",
        "maintain_subscriptions",
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
