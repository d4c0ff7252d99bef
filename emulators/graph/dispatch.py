"""One Graph call, from HTTP or from inside ``$batch``: faults, throttling, the handler, the request log."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from emulators.graph.errors import GraphError, error_body
from emulators.graph.events import now
from emulators.graph.model import RequestRecord
from emulators.graph.state import EmulatorState


@dataclass(frozen=True, kw_only=True)
class Call:
    method: str
    path: str  # below /v1.0, percent-decoded except '%2F' inside a segment
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    prefer: list[str]
    body: Any
    app_id: str
    base_url: str  # absolute, ending in /v1.0
    # Arrived on a pre-authenticated attachment upload URL (``/api/v2.0/…?authtoken=…``), not below /v1.0.
    pre_authenticated: bool = False


@dataclass(kw_only=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call, dict[str, str]], Awaitable[Reply]]
_USER_SEGMENT = re.compile(r"^/users/([^/]+)", re.IGNORECASE)
# An upload URL names its mailbox Outlook-style: /api/v2.0/Users('{id}')/Events('{id}')/AttachmentSessions('{id}').
_UPLOAD_USER = re.compile(r"^/api/v2\.0/Users\('([^']+)'\)", re.IGNORECASE)


def decode_path(raw: str) -> str:
    """Percent-decode a raw path but keep an encoded '/' inside a segment (Graph ids may contain '/')."""
    return unquote(re.sub(r"%2[Ff]", "%252F", raw))


def segment(value: str) -> str:
    return value.replace("%2F", "/")


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}/?$", re.IGNORECASE), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for m, rx, handler in self._routes:
            found = rx.match(path)
            if found:
                if m == method:
                    return handler, {k: segment(v) for k, v in found.groupdict().items()}
                allowed = True
        if allowed:
            raise GraphError(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed for '{path}'.")
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path.strip('/').split('/')[-1]}'.")


class Dispatcher:
    def __init__(self, state: EmulatorState, router: Router) -> None:
        self.state = state
        self.router = router
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._inflight: dict[tuple[str, str], int] = {}
        self._uploads: dict[tuple[str, str], tuple[float, int]] = {}

    def reset(self) -> None:
        self._windows.clear()
        self._inflight.clear()
        self._uploads.clear()

    def charge_upload(self, app_id: str, mailbox: str, size: int) -> None:
        """Count ``size`` attachment bytes against the app's upload budget in the mailbox: "150 MB of upload
        per 5 minutes" (page "Microsoft Graph throttling limits", Outlook service limits,
        https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits). Past it: 429 with
        ``Retry-After`` and nothing is counted."""
        cfg = self.state.config.throttle
        key = (app_id, mailbox)
        clock = time.monotonic()
        started, used = self._uploads.get(key, (clock, 0))
        if clock - started >= cfg.upload_window_seconds:
            started, used = clock, 0
        if used + size > cfg.upload_bytes_per_window:
            wait = max(1, math.ceil(cfg.upload_window_seconds - (clock - started)))
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxUpload limit.",
                headers={"Retry-After": str(wait)},
            )
        self._uploads[key] = (started, used + size)

    def _mailbox_of(self, path: str) -> str | None:
        m = _USER_SEGMENT.match(path) or _UPLOAD_USER.match(path)
        if not m:
            return None
        seg = segment(m.group(1))
        try:
            return self.state.user(seg).id
        except GraphError:
            return seg

    def _throttle(self, app_id: str, mailbox: str) -> GraphError | None:
        cfg = self.state.config.throttle
        key = (app_id, mailbox)
        clock = time.monotonic()
        started, count = self._windows.get(key, (clock, 0))
        if clock - started >= cfg.window_seconds:
            started, count = clock, 0
        if count >= cfg.requests_per_window:
            wait = max(1, math.ceil(cfg.window_seconds - (clock - started)))
            return GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxRequests limit.",
                headers={"Retry-After": str(wait)},
            )
        self._windows[key] = (started, count + 1)
        if self._inflight.get(key, 0) >= cfg.concurrency:
            return GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                headers={"Retry-After": "1"},
            )
        return None

    def _fault(self, call: Call, mailbox: str | None) -> tuple[int, GraphError | None]:
        for fault in self.state.faults:
            if fault.count <= 0:
                continue
            if fault.method and fault.method.upper() != call.method:
                continue
            if fault.path and not re.search(fault.path, call.path):
                continue
            if fault.mailbox and mailbox != fault.mailbox and mailbox != self._safe_id(fault.mailbox):
                continue
            fault.count -= 1
            if fault.status is None:
                return fault.delay_ms, None
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            err = GraphError(
                fault.status, _default_code(fault.status), "Injected fault.", headers=headers, body=fault.body
            )
            return fault.delay_ms, err
        return 0, None

    def _safe_id(self, segment_text: str) -> str | None:
        try:
            return self.state.user(segment_text).id
        except GraphError:
            return None

    async def run(self, call: Call, *, hold: bool = False) -> Reply:
        """One call. ``hold``: the call is one of several ``$batch`` items Graph runs side by side; it keeps its
        slot of the mailbox's concurrency while its siblings start, so more than the limit at once get 429."""
        mailbox = self._mailbox_of(call.path)
        key = (call.app_id, mailbox) if mailbox else None
        reply: Reply
        counted = False
        try:
            if key is not None:
                throttled = self._throttle(*key)
                if throttled is not None:
                    raise throttled
                self._inflight[key] = self._inflight.get(key, 0) + 1
                counted = True
                if hold:
                    await asyncio.sleep(0)
            delay_ms, fault = self._fault(call, mailbox)
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            if fault is not None:
                raise fault
            handler, params = self.router.match(call.method, call.path)
            reply = await handler(call, params)
        except GraphError as exc:
            reply = error_reply(exc)
        finally:
            if counted and key is not None:
                self._inflight[key] -= 1
        self.state.requests.append(
            RequestRecord(
                method=call.method, path=call.path, mailbox=mailbox, status=reply.status, app_id=call.app_id, at=now()
            )
        )
        return reply


def error_reply(exc: GraphError) -> Reply:
    body = exc.body or error_body(exc.code, exc.message)
    return Reply(status=exc.status, body=body, headers=dict(exc.headers))


def _default_code(status: int) -> str:
    return {
        400: "BadRequest",
        401: "InvalidAuthenticationToken",
        403: "ErrorAccessDenied",
        404: "ErrorItemNotFound",
        409: "ErrorIrresolvableConflict",
        429: "ApplicationThrottled",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "UnknownError")
