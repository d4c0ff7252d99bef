"""HTTP functions served on loopback by the local host, through a real HTTP client."""

from __future__ import annotations

import asyncio
import json
import os
import threading

import azure.functions as func
import httpx
import pytest

from emulators.functions_host import LocalFunctionsHost


def _http_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="echo/{kind}/{id:int?}", methods=["POST"])
    async def echo(req: func.HttpRequest) -> func.HttpResponse:
        document = {
            "method": req.method,
            "url": req.url,
            "route": dict(req.route_params),
            "query": dict(req.params),
            "header": req.headers.get("x-trace"),
            "body": req.get_json(),
        }
        return func.HttpResponse(json.dumps(document), status_code=201, mimetype="application/json")

    @app.route(route="sync", methods=["GET"])
    def sync_handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(
            f"thread={threading.current_thread() is threading.main_thread()}",
            headers={"X-Handled-By": "sync"},
        )

    @app.route(route="text", methods=["GET"])
    def plain_text(req: func.HttpRequest) -> str:
        return "just text"

    @app.route(route="setting", methods=["GET"])
    async def read_setting(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(os.environ.get("FH_GREETING", "<unset>"))

    @app.route(route="broken", methods=["GET"])
    def broken(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom")

    return app


async def test_async_handler_gets_method_url_route_query_headers_and_body() -> None:
    """The handler gets a real HttpRequest and its HttpResponse becomes the answer (Functions HTTP trigger)."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post("/api/echo/order/12?x=1", json={"a": 1}, headers={"X-Trace": "t-1"})
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "method": "POST",
        "url": f"{base_url}/api/echo/order/12?x=1",
        "route": {"kind": "order", "id": "12"},
        "query": {"x": "1"},
        "header": "t-1",
        "body": {"a": 1},
    }


async def test_optional_route_parameter_is_absent_from_route_params() -> None:
    """An optional route parameter left out of the URL is not in route_params (Functions HTTP trigger)."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post("/api/echo/order", json={})
    assert answer.json()["route"] == {"kind": "order"}


async def test_sync_handler_runs_on_a_worker_thread_and_sets_headers() -> None:
    """A plain ``def`` runs off the event loop thread, as the Python worker's thread pool does; text gets charset."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/api/sync")
    assert answer.status_code == 200
    assert answer.text == "thread=False"
    assert answer.headers["x-handled-by"] == "sync"
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


async def test_string_return_is_a_200_text_answer() -> None:
    """A handler returning str answers 200 with that text (azure.functions HttpResponseConverter)."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/api/text")
    assert (answer.status_code, answer.text) == (200, "just text")


async def test_unknown_route_or_wrong_method_is_404() -> None:
    """Paths outside the prefix, unknown routes and unaccepted methods find no function: 404."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        statuses = [
            (await client.get("/echo/order")).status_code,
            (await client.get("/api/nothing")).status_code,
            (await client.get("/api/echo/order")).status_code,
        ]
    assert statuses == [404, 404, 404]


async def test_handler_exception_is_a_500_and_is_recorded() -> None:
    """An unhandled exception answers 500 without details and the invocation is recorded as failed."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/api/broken")
    assert (answer.status_code, answer.text) == (500, "")
    assert [(i.function_name, i.succeeded) for i in host.invocations] == [("broken", False)]
    assert "boom" in (host.invocations[0].error or "")


async def test_route_prefix_comes_from_host_json() -> None:
    """extensions.http.routePrefix replaces "api" (host.json reference); an empty prefix serves at the root."""
    host = LocalFunctionsHost(_http_app(), host_json={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}})
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/text")
    assert answer.text == "just text"


async def test_handlers_see_the_settings_in_os_environ_only_while_serving() -> None:
    """App settings are environment variables for the function code (Functions app settings docs)."""
    host = LocalFunctionsHost(_http_app(), environ={"FH_GREETING": "hello"})
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/api/setting")
    assert answer.text == "hello"
    assert "FH_GREETING" not in os.environ


async def test_disabled_function_is_not_served() -> None:
    """``AzureWebJobs.<name>.Disabled=true`` turns a function off (Functions: disable a function)."""
    host = LocalFunctionsHost(_http_app(), environ={"AzureWebJobs.plain_text.Disabled": "true"})
    async with host.serving(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/api/text")
    assert answer.status_code == 404


async def test_server_stops_listening_when_the_block_ends() -> None:
    """Leaving ``serving()`` closes the listening socket: nothing is left running."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    writer.close()
    raise AssertionError(f"port {port} still accepts connections")


async def test_port_in_use_is_an_error_before_anything_starts() -> None:
    """Serving on a port another socket listens on raises OSError instead of running half-started."""
    host = LocalFunctionsHost(_http_app())
    async with host.serving(port=0) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match=r"."):
            async with LocalFunctionsHost(_http_app()).serving(port=port):
                pass
