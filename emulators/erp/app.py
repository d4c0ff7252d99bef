"""The reference ERP's HTTP surface: the ERP Sync API (docs/erp-sync-api.yaml) over ``ErpStore``.

Also an HTML page at ``/`` for a person running the demo, the contract at ``/openapi.yaml``, and a
small test surface under ``/_erp`` (reset, fault injection) that is not part of the contract.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.erp import attachments
from emulators.erp.hooks import HookSender
from emulators.erp.page import render_page
from emulators.erp.problems import Problem, validation_errors
from emulators.erp.request_state import notify, store_of
from emulators.erp.store import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ErpStore,
    FeedPage,
    LeaveRequestFields,
    LeaveRequestPatch,
    activity_hook,
    leave_hook,
    parse_if_match,
)
from emulators.erp.wire import check_wire
from shared.core.activities import Activity, ActivityFields, ActivityPatch, ActivityTypeDefinition, LeaveRequest

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "erp-sync-api.yaml"
PUBLIC_PATHS = frozenset({"/", "/openapi.yaml", "/favicon.ico"})
M = TypeVar("M", bound=BaseModel)


_store, _notify = store_of, notify


ID = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,199}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAILS = 50


async def _body(request: Request, model: type[M]) -> M:
    """The body as ``model``, validated strictly: no coercion the contract does not describe."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "bad-request", "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise Problem(422, "invalid-request", "the body is a JSON object")
    check_wire(data)
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise Problem(422, "invalid-request", errors=validation_errors(exc)) from exc


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def _web_url(request: Request, activity_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/#activity-{activity_id}"


def _activity_json(request: Request, activity: Activity) -> dict[str, Any]:
    data = activity.model_dump(by_alias=True, mode="json")
    data["webUrl"] = _web_url(request, activity.id)
    return data


def _activity_response(request: Request, activity: Activity, *, status: int = 200, **headers: str) -> JSONResponse:
    return _json(_activity_json(request, activity), status=status, headers={"ETag": f'"{activity.version}"', **headers})


def _leave_response(leave: LeaveRequest, *, status: int = 200) -> JSONResponse:
    return _json(leave.model_dump(by_alias=True, mode="json"), status=status, headers={"ETag": f'"{leave.version}"'})


def _query_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise Problem(400, "bad-request", f"limit is an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def _query_instant(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise Problem(400, "bad-request", f"{name} is an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        raise Problem(400, "bad-request", f"{name} needs an offset (an instant, e.g. ...Z)")
    return moment


def _query_id(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise Problem(400, "bad-request", f"query parameter {name} is required")
    if not ID.match(value):
        raise Problem(400, "bad-request", f"{name} is not an id (URL-unreserved characters, 1 to 200)")
    return value


def _page_json(request: Request, page: FeedPage) -> dict[str, Any]:
    for item in page.items:
        if item.get("activity") is not None:
            item["activity"]["webUrl"] = _web_url(request, item["activityId"])
    return {"items": page.items, "nextCursor": page.next_cursor, "hasMore": page.has_more}


# --- reference data ------------------------------------------------------------------------------------


async def get_capabilities(request: Request) -> Response:
    """What this ERP can hold (R28: recurring series)."""
    return _json(_store(request).capabilities().model_dump(by_alias=True, mode="json"))


async def list_users(request: Request) -> Response:
    raw = request.query_params.get("enabled")
    if raw not in (None, "true", "false"):
        raise Problem(400, "bad-request", "enabled is true or false")
    enabled = None if raw is None else raw == "true"
    users = _store(request).list_users(enabled=enabled)
    return _json({"items": [user.model_dump(by_alias=True, mode="json") for user in users]})


async def get_user(request: Request) -> Response:
    user = _store(request).get_user(request.path_params["user_id"])
    return _json(user.model_dump(by_alias=True, mode="json"))


def _query_emails(request: Request) -> list[str]:
    emails = request.query_params.getlist("email")
    if len(emails) > MAX_EMAILS:
        raise Problem(400, "bad-request", f"at most {MAX_EMAILS} email parameters")
    if not all(len(email) <= 320 and EMAIL.match(email) for email in emails):
        raise Problem(400, "bad-request", "email is an address like name@domain")
    return emails


async def find_contacts(request: Request) -> Response:
    contacts = _store(request).find_contacts(_query_emails(request))
    return _json({"items": [contact.model_dump(by_alias=True, mode="json") for contact in contacts]})


async def find_companies(request: Request) -> Response:
    companies = _store(request).find_companies(_query_emails(request))
    return _json({"items": [company.model_dump(by_alias=True, mode="json") for company in companies]})


async def get_company(request: Request) -> Response:
    company = _store(request).get_company(request.path_params["company_id"])
    return _json(company.model_dump(by_alias=True, mode="json"))


async def list_facilities(request: Request) -> Response:
    facilities = _store(request).list_facilities()
    return _json({"items": [facility.model_dump(by_alias=True, mode="json") for facility in facilities]})


async def list_activity_types(request: Request) -> Response:
    types = _store(request).list_activity_types()
    return _json({"items": [kind.model_dump(by_alias=True, mode="json") for kind in types]})


async def create_activity_type(request: Request) -> Response:
    definition = _store(request).create_activity_type(await _body(request, ActivityTypeDefinition))
    return _json(definition.model_dump(by_alias=True, mode="json"), status=201)


# --- activities ----------------------------------------------------------------------------------------


async def create_activity(request: Request) -> Response:
    fields = await _body(request, ActivityFields)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise Problem(400, "bad-request", "Idempotency-Key is 1 to 255 characters")
    result = _store(request).create_activity(fields, idempotency_key=key)
    if result.replayed:
        return _activity_response(request, result.activity, status=201, **{"Idempotent-Replayed": "true"})
    _notify(request, activity_hook(result.activity))
    location = f"/activities/{result.activity.id}"
    return _activity_response(request, result.activity, status=201, Location=location)


async def get_activity(request: Request) -> Response:
    return _activity_response(request, _store(request).get_activity(request.path_params["activity_id"]))


async def update_activity(request: Request) -> Response:
    activity_id = request.path_params["activity_id"]
    store = _store(request)
    store.get_activity(activity_id)  # 404 before anything about the body or the version
    version = parse_if_match(request.headers.get("If-Match"))
    patch = await _body(request, ActivityPatch)
    before, after = store.update_activity(activity_id, patch, version=version)
    _notify(request, activity_hook(after, before))
    return _activity_response(request, after)


async def delete_activity(request: Request) -> Response:
    activity_id = request.path_params["activity_id"]
    store = _store(request)
    store.get_activity(activity_id)
    before = store.delete_activity(activity_id, version=parse_if_match(request.headers.get("If-Match")))
    _notify(request, activity_hook(before, deleted=True))
    return Response(status_code=204)


def _transition(action: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        activity_id = request.path_params["activity_id"]
        store = _store(request)
        store.get_activity(activity_id)
        after = store.transition_activity(activity_id, action, version=parse_if_match(request.headers.get("If-Match")))
        _notify(request, activity_hook(after))
        return _activity_response(request, after)

    endpoint.__name__ = f"{action}_activity"
    return endpoint


def _feed_user(request: Request) -> str:
    """``userId``, or its deprecated alias ``ownerId`` (same meaning); both given must agree."""
    given = {name: _query_id(request, name) for name in ("userId", "ownerId") if name in request.query_params}
    if not given:
        raise Problem(400, "bad-request", "query parameter userId is required")
    if len(set(given.values())) > 1:
        raise Problem(400, "bad-request", "userId and its deprecated alias ownerId name different users")
    return next(iter(given.values()))


async def activity_changes(request: Request) -> Response:
    page = _store(request).activity_changes(
        user_id=_feed_user(request),
        cursor=request.query_params.get("cursor"),
        ends_after=_query_instant(request, "endsAfter"),
        limit=_query_limit(request),
    )
    return _json(_page_json(request, page))


# --- leave requests ------------------------------------------------------------------------------------


async def create_leave_request(request: Request) -> Response:
    leave = _store(request).create_leave_request(await _body(request, LeaveRequestFields))
    _notify(request, leave_hook(leave))
    return _leave_response(leave, status=201)


async def get_leave_request(request: Request) -> Response:
    return _leave_response(_store(request).get_leave_request(request.path_params["leave_id"]))


async def update_leave_request(request: Request) -> Response:
    leave_id = request.path_params["leave_id"]
    store = _store(request)
    store.get_leave_request(leave_id)
    version = parse_if_match(request.headers.get("If-Match"))
    leave = store.update_leave_request(leave_id, await _body(request, LeaveRequestPatch), version=version)
    _notify(request, leave_hook(leave))
    return _leave_response(leave)


async def leave_request_changes(request: Request) -> Response:
    page = _store(request).leave_request_changes(
        user_id=_query_id(request, "userId"),
        cursor=request.query_params.get("cursor"),
        ends_after=_query_instant(request, "endsAfter"),
        limit=_query_limit(request),
    )
    return _json(_page_json(request, page))


# --- people and tests ----------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    store = _store(request)
    users = {user.id: user for user in store.list_users(enabled=None)}
    return HTMLResponse(render_page(store.list_activities(), store.list_leave_requests(), users))


async def openapi(request: Request) -> Response:
    if not SPEC_PATH.exists():
        raise Problem(404, "not-found", "the contract is not shipped with this copy")
    return FileResponse(SPEC_PATH, media_type="application/yaml")


async def reset(request: Request) -> Response:
    _store(request).reset()
    request.app.state.faults.clear()
    return Response(status_code=204)


async def inject_faults(request: Request) -> Response:
    """Answer the next ``count`` API calls with ``status`` (e.g. 503 with Retry-After), to test clients."""
    data = json.loads(await request.body() or b"{}")
    status, count = int(data.get("status", 503)), int(data.get("count", 1))
    if status not in (429, 500, 502, 503, 504) or not 0 <= count <= 100:
        raise Problem(422, "invalid-request", "status is 429 or 5xx, count 0..100")
    request.app.state.faults[:] = [(status, data.get("retryAfter"))] * count
    return Response(status_code=204)


async def hook_stats(request: Request) -> Response:
    hooks: HookSender | None = request.app.state.hooks
    if hooks is not None:
        await hooks.drain()
    return _json({"delivered": hooks.delivered if hooks else 0, "failed": hooks.failed if hooks else 0})


# --- plumbing ------------------------------------------------------------------------------------------


class ApiKeyAndFaults:
    """Bearer API key on everything but the public pages; then any injected fault. Plain ASGI: Starlette's
    ``BaseHTTPMiddleware`` ran every request through a task group and a stream, a tenth of an in-process
    bench's CPU."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(Request(scope)) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    @staticmethod
    def _refusal(request: Request) -> Response | None:
        path = request.url.path
        if path in PUBLIC_PATHS:
            return None
        expected = f"Bearer {request.app.state.api_key}".encode()
        given = request.headers.get("Authorization", "").encode("utf-8", errors="replace")
        if not hmac.compare_digest(given, expected):
            problem = Problem(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
            return problem.response(path)
        faults: list[tuple[int, Any]] = request.app.state.faults
        if faults and not path.startswith("/_erp/"):
            status, retry_after = faults.pop(0)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            name = "too-many-requests" if status == 429 else "unavailable"
            return Problem(status, name, "injected fault", headers=headers).response(path)
        return None


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response(request.url.path)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    names = {404: "not-found", 405: "method-not-allowed"}
    problem = Problem(exc.status_code, names.get(exc.status_code, "bad-request"), headers=dict(exc.headers or {}))
    return problem.response(request.url.path)


Endpoint = Callable[[Request], Awaitable[Response]]


def _route(path: str, **by_method: Endpoint) -> Route:
    """One route per path, so a 405 answer's Allow header lists every method the path has (RFC 9110 §15.5.6)."""

    async def endpoint(request: Request) -> Response:
        handler = by_method.get(request.method) or (by_method.get("GET") if request.method == "HEAD" else None)
        if handler is None:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(by_method))})
        return await handler(request)

    methods = list(by_method) + (["HEAD"] if "GET" in by_method else [])
    return Route(path, endpoint, methods=methods)


def create_app(
    db_path: str,
    *,
    api_key: str,
    hook_url: str | None = None,
    hook_secret: str | None = None,
    outbound: httpx.AsyncClient | None = None,
    series: bool = True,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> Starlette:
    """The reference ERP over SQLite at ``db_path`` (``:memory:`` for tests); ``series=False`` makes one
    without recurring series (R28: ``GET /capabilities`` says so, a recurrence is refused);
    ``max_attachment_bytes`` is the largest file an activity takes (R18; 0: an ERP without files)."""
    if not api_key:
        raise ValueError("api_key is required")
    if hook_url and not hook_secret:
        raise ValueError("hook_secret is required with hook_url")
    store = ErpStore(db_path, series=series, max_attachment_bytes=max_attachment_bytes)
    owned_client = outbound is None and bool(hook_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if app.state.hooks is not None:
            await app.state.hooks.aclose()
        if owned_client and app.state.outbound is not None:
            await app.state.outbound.aclose()
        store.close()

    routes = [
        _route("/", GET=home),
        _route("/openapi.yaml", GET=openapi),
        _route("/capabilities", GET=get_capabilities),
        _route("/users", GET=list_users),
        _route("/users/{user_id}", GET=get_user),
        _route("/contacts", GET=find_contacts),
        _route("/companies", GET=find_companies),
        _route("/companies/{company_id}", GET=get_company),
        _route("/facilities", GET=list_facilities),
        _route("/activity-types", GET=list_activity_types, POST=create_activity_type),
        _route("/activities", POST=create_activity),
        _route("/activities/{activity_id}", GET=get_activity, PATCH=update_activity, DELETE=delete_activity),
        *(
            _route(f"/activities/{{activity_id}}/{action}", POST=_transition(action))
            for action in ("confirm", "release", "close", "void")
        ),
        _route(
            "/activities/{activity_id}/attachments", GET=attachments.list_attachments, POST=attachments.add_attachment
        ),
        _route("/activities/{activity_id}/attachments/{attachment_id}", DELETE=attachments.remove_attachment),
        _route("/activities/{activity_id}/attachments/{attachment_id}/content", GET=attachments.attachment_content),
        _route("/activity-changes", GET=activity_changes),
        _route("/leave-requests", POST=create_leave_request),
        _route("/leave-requests/{leave_id}", GET=get_leave_request, PATCH=update_leave_request),
        _route("/leave-request-changes", GET=leave_request_changes),
        _route("/_erp/reset", POST=reset),
        _route("/_erp/faults", POST=inject_faults),
        _route("/_erp/hooks", GET=hook_stats),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ApiKeyAndFaults)],
        exception_handlers={Problem: _on_problem, HTTPException: _on_http},
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.api_key = api_key
    app.state.faults = []
    client = outbound if outbound is not None else (httpx.AsyncClient(timeout=10.0) if hook_url else None)
    app.state.outbound = client
    app.state.hooks = (
        HookSender(url=hook_url, secret=hook_secret or "", client=client) if hook_url and client is not None else None
    )
    return app
