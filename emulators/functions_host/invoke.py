"""Call a user function the way the Python worker does: arguments bound by parameter name, ``async def`` on
the event loop, plain ``def`` on a worker thread, ``func.Out`` parameters for output bindings.

See https://learn.microsoft.com/azure/azure-functions/python-scale-performance-reference#async
(sync functions run in the worker's thread pool; async ones on its event loop).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc as azf_abc

from emulators.functions_host.catalog import FunctionSpec

RETURN = "$return"


class OutValue(func.Out[Any]):
    """The value an output binding parameter receives; read after the function returns."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(azf_abc.TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(azf_abc.RetryContext):
    """No retry policies locally: every invocation is a first try."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> azf_abc.RpcException:
        raise LookupError("no previous attempt")


class InvocationContext(func.Context):
    """The ``context`` argument: invocation id and function name, as the worker provides them."""

    def __init__(self, *, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> azf_abc.TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> azf_abc.RetryContext:
        return _RetryContext()


@dataclass(frozen=True, kw_only=True)
class InvocationOutcome:
    """What a successful invocation produced: the return value and each output binding's value."""

    returned: Any
    outputs: Mapping[str, Any]

    def output(self, name: str) -> Any:
        """The value of output binding ``name`` (``$return`` is the return value)."""
        return self.returned if name == RETURN else self.outputs.get(name)


async def invoke(function: FunctionSpec, trigger_value: Any) -> InvocationOutcome:
    """Run ``function`` with ``trigger_value`` bound to its trigger parameter; exceptions propagate."""
    handler = function.handler
    outputs = {output.name: OutValue() for output in function.queue_outputs if output.name != RETURN}
    arguments: dict[str, Any] = {}
    for parameter in inspect.signature(handler).parameters.values():
        if parameter.name == function.trigger.name:
            arguments[parameter.name] = trigger_value
        elif parameter.name in outputs:
            arguments[parameter.name] = outputs[parameter.name]
        elif parameter.name == "context":
            directory = str(Path(inspect.getfile(handler)).parent)
            arguments[parameter.name] = InvocationContext(function_name=function.name, function_directory=directory)
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise TypeError(f"function {function.name!r}: parameter {parameter.name!r} has no binding")
    if inspect.iscoroutinefunction(handler):
        returned = await handler(**arguments)
    else:
        # A copy of the context, as asyncio.to_thread does, so contextvars set by the caller are visible.
        call = functools.partial(contextvars.copy_context().run, handler, **arguments)
        returned = await asyncio.get_running_loop().run_in_executor(None, call)
        if inspect.isawaitable(returned):
            returned = await returned
    return InvocationOutcome(returned=returned, outputs={name: out.get() for name, out in outputs.items()})
