"""Graph requests whose answers are read as JSON rather than kiota models.

msgraph-sdk still builds each request (request builders, ``RequestInformation``) and sends it through its
request adapter, so authentication, the retry handler (429/503/504, ``Retry-After``) and the rest of the
middleware apply as for any SDK call. Only the answer takes the adapter's native path: a
``ResponseHandlerOption(NativeResponseHandler())`` hands back the ``httpx.Response`` untouched, and the JSON
is read into the core's own types (``shared.graph.events_json``). Building kiota models costs about 12 ms an
event; reading the JSON costs well under one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import httpx
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_adapter import RequestAdapter
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options.response_handler_option import ResponseHandlerOption
from msgraph.generated.models.event import Event

from shared.core.m365 import EventWrite, M365Event
from shared.errors import (
    GraphError,
    GraphInvalid,
    GraphMailboxUnavailable,
    GraphNotFound,
    GraphSyncStateLost,
    GraphTooLarge,
    GraphTransient,
)
from shared.graph.events_json import body_from_write


def graph_error(status: int | None, code: str | None, headers: Mapping[str, str]) -> GraphError:
    """The project's error for a Graph error answer (also used by the in-process fake, so both agree)."""
    message = f"Graph answered {status} {code or ''}".strip()
    if status == 410 or (code or "").lower() in ("syncstatenotfound", "resyncrequired"):
        return GraphSyncStateLost(message, status=status, code=code)
    if code == "MailboxNotEnabledForRESTAPI" or (status == 403 and code == "ErrorAccessDenied"):
        # No mailbox, or one outside the app's Exchange role assignment (RBAC for Applications): R2.
        return GraphMailboxUnavailable(message, status=status, code=code)
    if status == 404:
        return GraphNotFound(message, status=status, code=code)
    if status == 413:
        # Past 3 MB in one POST, past 150 MB in an upload session, past 4 MB in one PUT (R18).
        return GraphTooLarge(message, status=status, code=code)
    if status in (429, 500, 502, 503, 504):
        retry_after = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        return GraphTransient(
            message,
            status=status,
            code=code,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    if status is not None and 400 <= status < 500:
        return GraphInvalid(message, status=status, code=code)
    return GraphError(message, status=status, code=code)


def error_code(body: Any) -> str | None:
    """``error.code`` of a Graph error body (``{"error": {"code", "message"}}``), if there is one."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


async def send_native(adapter: RequestAdapter, info: RequestInformation) -> httpx.Response:
    """Send ``info`` through the SDK's adapter and hand back its ``httpx.Response`` untouched, error or not; a
    transport failure is ``GraphTransient``."""
    info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
    try:
        return cast(httpx.Response, await adapter.send_primitive_async(info, "bytes", None))
    except httpx.TransportError as error:
        raise GraphTransient(f"Graph unreachable ({type(error).__name__})") from None


def raise_for_error(response: httpx.Response) -> None:
    """The project's ``GraphError`` for an error answer (status and Graph's error code)."""
    if response.status_code >= 400:
        raise graph_error(response.status_code, error_code(_json(response.content)), dict(response.headers))


async def send_json(adapter: RequestAdapter, info: RequestInformation) -> Any:
    """Send ``info`` through the SDK's adapter and return the answer's JSON (None for an empty answer).

    An error answer (after the retry handler gave up) raises the project's ``GraphError`` for its status and
    code; a transport failure is ``GraphTransient``. Nothing of the answer is logged."""
    response = await send_native(adapter, info)
    raise_for_error(response)
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        raise GraphError("Graph answered something that is not JSON") from None


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def write_request(builder: Any, method: str, write: EventWrite, headers: HeadersCollection) -> RequestInformation:
    """The ``POST``/``PATCH`` msgraph-sdk would build for ``write`` on ``builder`` (an events collection or one
    event), with the JSON of ``body_from_write`` as its content instead of a serialised kiota model."""
    config: RequestConfiguration[object] = RequestConfiguration(headers=headers)
    if method == "POST":
        info: RequestInformation = builder.to_post_request_information(Event(), config)
    else:
        info = builder.to_patch_request_information(Event(), config)
    info.content = json.dumps(body_from_write(write), separators=(",", ":")).encode()
    return info


def with_stamp(event: M365Event, write: EventWrite) -> M365Event:
    """A create's answer omits extended properties unless expanded; we know the stamp we sent."""
    if write.erp_stamp is not None and event.erp_stamp is None:
        return event.model_copy(update={"erp_stamp": write.erp_stamp})
    return event


class MailboxSlots:
    """At most 4 requests at once per mailbox from this process (page "Microsoft Graph throttling limits",
    Outlook service: 4 concurrent requests per app and mailbox). A ``$batch`` of that mailbox's writes runs up
    to 4 requests side by side in Graph, so it takes every slot."""

    LIMIT = 4

    def __init__(self) -> None:
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._whole: dict[str, asyncio.Lock] = {}

    def _of(self, mailbox: str) -> asyncio.Semaphore:
        return self._slots.setdefault(mailbox.lower(), asyncio.Semaphore(self.LIMIT))

    @contextlib.asynccontextmanager
    async def one(self, mailbox: str) -> AsyncIterator[None]:
        async with self._of(mailbox):
            yield

    @contextlib.asynccontextmanager
    async def every(self, mailbox: str) -> AsyncIterator[None]:
        slots = self._of(mailbox)
        async with self._whole.setdefault(mailbox.lower(), asyncio.Lock()):
            taken = 0
            try:
                for _ in range(self.LIMIT):
                    await slots.acquire()
                    taken += 1
                yield
            finally:
                for _ in range(taken):
                    slots.release()
