"""The ASGI app of the local host: every HTTP function under the route prefix, plus the admin endpoints.

Requests become ``azure.functions.HttpRequest`` and results become HTTP answers the way the Python worker
converts them (``azure.functions.http.HttpResponseConverter``). Auth levels are not enforced, as with
``func start`` (https://learn.microsoft.com/azure/azure-functions/functions-run-local#authorization-keys).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.functions_host.catalog import ALL_METHODS, FunctionSpec, HttpTrigger
from emulators.functions_host.invoke import InvocationOutcome

log = logging.getLogger("emulators.functions_host.http")

Execute = Callable[[FunctionSpec, Any], Awaitable[InvocationOutcome]]
StartAdminRun = Callable[[FunctionSpec, str], None]
FindFunction = Callable[[str], FunctionSpec | None]


def build_asgi_app(
    *,
    route_prefix: str,
    http_functions: Sequence[FunctionSpec],
    execute: Execute,
    find_function: FindFunction,
    start_admin_run: StartAdminRun,
) -> Starlette:
    """Starlette app: admin routes first, then a dispatcher over the HTTP functions' route templates."""
    ordered = sorted(http_functions, key=lambda function: _http_trigger(function).route.sort_key())
    prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""

    async def admin_run(request: Request) -> Response:
        # https://learn.microsoft.com/azure/azure-functions/functions-manually-run-non-http
        function = find_function(request.path_params["name"])
        if function is None:
            return JSONResponse({"error": "function not found"}, status_code=404)
        if isinstance(function.trigger, HttpTrigger):
            return JSONResponse({"error": "HTTP-triggered functions are called on their route"}, status_code=400)
        try:
            document = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            return JSONResponse({"error": 'body must be JSON like {"input": ""}'}, status_code=400)
        payload = document.get("input", "") if isinstance(document, dict) else ""
        start_admin_run(function, payload if isinstance(payload, str) else json.dumps(payload))
        return Response(status_code=202)

    async def host_status(request: Request) -> Response:
        return JSONResponse({"state": "Running"})

    async def dispatch(request: Request) -> Response:
        path: str = request.scope["path"]
        if prefix:
            if not (path.lower() == prefix.lower() or path.lower().startswith(prefix.lower() + "/")):
                return Response(status_code=404)
            path = path[len(prefix) :] or "/"
        for function in ordered:
            trigger = _http_trigger(function)
            values = trigger.route.match(path)
            # A method the function does not accept is a 404: the route constraint does not match.
            if values is not None and request.method.upper() in trigger.methods:
                return await _call(function, values, request, execute)
        return Response(status_code=404)

    return Starlette(
        routes=[
            Route("/admin/functions/{name}", admin_run, methods=["POST"]),
            Route("/admin/host/status", host_status, methods=["GET"]),
            Route("/{path:path}", dispatch, methods=list(ALL_METHODS)),
        ]
    )


async def _call(function: FunctionSpec, route_values: dict[str, str], request: Request, execute: Execute) -> Response:
    http_request = func.HttpRequest(
        method=request.method.upper(),
        url=str(request.url),
        headers={name: ", ".join(request.headers.getlist(name)) for name in request.headers},
        params=dict(request.query_params),
        route_params=route_values,
        body=await request.body(),
    )
    try:
        outcome = await execute(function, http_request)
    except Exception:
        log.exception("%s failed", function.name)
        return Response(status_code=500)
    return to_http_answer(outcome.returned)


def to_http_answer(returned: Any) -> Response:
    """The HTTP answer for what an HTTP function returned (HttpResponse, str, or nothing)."""
    if returned is None:
        return Response(status_code=204)
    if isinstance(returned, str):
        return Response(returned.encode("utf-8"), status_code=200, media_type="text/plain; charset=utf-8")
    if not isinstance(returned, func.HttpResponse):
        raise TypeError(f"an HTTP function returned {type(returned).__name__}, not HttpResponse or str")
    headers = [(name, value) for name, value in returned.headers.items() if name.lower() != "content-length"]
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype = returned.mimetype
        headers.append(
            ("content-type", f"{mimetype}; charset={returned.charset}" if mimetype.startswith("text/") else mimetype)
        )
    answer = Response(returned.get_body() or b"", status_code=returned.status_code)
    answer.raw_headers.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)
    return answer


def _http_trigger(function: FunctionSpec) -> HttpTrigger:
    if not isinstance(function.trigger, HttpTrigger):
        raise TypeError(f"{function.name} is not HTTP-triggered")
    return function.trigger
