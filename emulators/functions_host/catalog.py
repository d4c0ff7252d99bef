"""What the Functions host indexes from a Python v2 ``FunctionApp``: triggers and the bindings we support.

Reads ``app.get_functions()`` and each function's ``get_dict_repr()`` (the same JSON the real worker sends
to the host at indexing time), so the local host sees exactly what Azure would.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from emulators.functions_host.ncrontab import Schedule, parse_schedule
from emulators.functions_host.routes import RouteTemplate

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
DEFAULT_STORAGE_CONNECTION = "AzureWebJobsStorage"


@dataclass(frozen=True, kw_only=True)
class QueueOutput:
    """A queue output binding: ``name`` is the parameter (``func.Out``) or ``$return``."""

    name: str
    queue_name: str
    connection: str


@dataclass(frozen=True, kw_only=True)
class HttpTrigger:
    name: str
    route: RouteTemplate
    methods: tuple[str, ...]
    auth_level: str


@dataclass(frozen=True, kw_only=True)
class QueueTrigger:
    name: str
    queue_name: str
    connection: str


@dataclass(frozen=True, kw_only=True)
class TimerTrigger:
    name: str
    schedule: Schedule
    run_on_startup: bool


Trigger = HttpTrigger | QueueTrigger | TimerTrigger


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """One indexed function: its name, the user's handler, its trigger and its queue outputs."""

    name: str
    handler: Callable[..., Any]
    trigger: Trigger
    queue_outputs: tuple[QueueOutput, ...]
    unsupported_bindings: tuple[str, ...]


def load_app(spec: str, *, app_dir: Path | None = None) -> func.FunctionApp:
    """Import ``"module:attribute"`` (default attribute ``app``), with ``app_dir`` first on sys.path."""
    module_name, _, attribute = spec.partition(":")
    if app_dir is not None and str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app")
    if not isinstance(app, func.FunctionApp):
        raise TypeError(f"{spec} is a {type(app).__name__}, not an azure.functions.FunctionApp")
    return app


def read_functions(app: func.FunctionApp) -> list[FunctionSpec]:
    """Every function of ``app`` (blueprints included), in the order the app declares them."""
    specs = []
    names: set[str] = set()
    # get_functions() records every name on the app and refuses a second indexing as "duplicate names".
    # The real host indexes once per process; tests and the demo may index the same app object again.
    app.functions_bindings = {}
    for function in app.get_functions():
        spec = _read_function(function)
        if spec.name.lower() in names:
            # The real host refuses duplicate names (case-insensitive) at indexing time.
            raise ValueError(f"two functions are named {spec.name!r}")
        names.add(spec.name.lower())
        specs.append(spec)
    return specs


def _read_function(function: func.Function) -> FunctionSpec:
    name = function.get_function_name()
    if not name:
        raise ValueError(f"function without a name: {function}")
    bindings: list[Mapping[str, Any]] = function.get_dict_repr()["bindings"]
    trigger: Trigger | None = None
    outputs: list[QueueOutput] = []
    unsupported: list[str] = []
    for binding in bindings:
        kind = str(binding["type"])
        if kind == "httpTrigger":
            methods = binding.get("methods") or ALL_METHODS
            trigger = HttpTrigger(
                name=binding["name"],
                route=RouteTemplate.compile(binding.get("route") or name),
                methods=tuple(str(_enum_value(method)).upper() for method in methods),
                auth_level=str(_enum_value(binding.get("authLevel", "function"))).lower(),
            )
        elif kind == "queueTrigger":
            trigger = QueueTrigger(
                name=binding["name"],
                queue_name=binding["queueName"],
                connection=binding.get("connection") or DEFAULT_STORAGE_CONNECTION,
            )
        elif kind == "timerTrigger":
            trigger = TimerTrigger(
                name=binding["name"],
                schedule=parse_schedule(binding["schedule"]),
                run_on_startup=bool(binding.get("runOnStartup", False)),
            )
        elif kind == "queue":
            outputs.append(
                QueueOutput(
                    name=binding["name"],
                    queue_name=binding["queueName"],
                    connection=binding.get("connection") or DEFAULT_STORAGE_CONNECTION,
                )
            )
        elif kind != "http":  # "http" is the response of an HTTP trigger, handled with it.
            unsupported.append(f"{kind} {binding.get('name')}")
    if trigger is None:
        raise ValueError(f"function {name!r} has no trigger this host supports: {[b['type'] for b in bindings]}")
    return FunctionSpec(
        name=name,
        handler=function.get_user_function(),
        trigger=trigger,
        queue_outputs=tuple(outputs),
        unsupported_bindings=tuple(unsupported),
    )


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)
