"""``InProcessCalendar``: the calendar port straight on the Graph emulator, in this process, for fast tests.

Every port call becomes the ``Call`` msgraph-sdk would have sent (same path, query, ``Prefer`` values and
JSON body) and runs through the emulator's dispatcher, so control-API faults, throttling and the request
log apply as they do over HTTP. What it skips is HTTP and kiota: the JSON answers are read by
``shared.graph.events_json`` (the same reading the Graph adapter does on its native response path, without
kiota's models). Errors become the same ``shared.errors`` exceptions through
``graph_error``, and 429/503/504 are retried like the SDK's ``RetryHandler`` (3 retries, ``Retry-After`` or
its backoff, none at 180 s or more); ``sleep`` may be swapped to skip the waits. ``tests/graph_port`` runs
the same contract against this and ``GraphCalendar``.

``app``/``emulator``/``state`` are the emulator itself: a test acts as a person in Outlook through
``outlook()`` (an HTTP client with a token) or seeds through ``emulator``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from kiota_abstractions.date_utils import datetime_from_iso_format_compat
from starlette.applications import Starlette

from emulators.fakes.calendar_attachments import InProcessAttachments
from emulators.graph.app import Emulator, create_app
from emulators.graph.dispatch import Call, Reply, decode_path
from shared.core.attachments import EventAttachment, FileMeta
from shared.core.m365 import DeltaEntry, EventWrite, M365Event
from shared.errors import GraphError, GraphNotFound
from shared.graph.client import PREFER, RESPONSES, STAMPED_FILTER, STAMPED_PAGE, graph_error
from shared.graph.convert import ERP_STAMP_PROPERTY
from shared.graph.events_json import body_from_write, event_from_json, is_foreign, stamp_of
from shared.graph.port import DeltaResult, EventChange, EventChangeResult, Subscription

__all__ = ["InProcessCalendar", "accepting_receiver", "body_from_write", "event_from_json"]

Sleep = Callable[[float], Awaitable[None]]
SCOPE = "https://graph.microsoft.com/.default"
_STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')"
_RETRY_STATUS = (429, 503, 504)
_MAX_RETRIES, _BASE_DELAY, _MAX_DELAY, _BACKOFF_MAX = 3, 3.0, 180.0, 120.0
_ACTIONS = {"accepted": "accept", "tentativelyAccepted": "tentativelyAccept", "declined": "decline"}


def accepting_receiver(request: httpx.Request) -> httpx.Response:
    """Default webhook side: echoes the validation token, takes every notification."""
    token = request.url.params.get("validationToken")
    if token is not None:
        return httpx.Response(200, text=token, headers={"Content-Type": "text/plain"})
    return httpx.Response(202)


class InProcessCalendar:
    """``CalendarPort`` on an in-process Graph emulator (its own, or ``app`` shared with other clients)."""

    def __init__(
        self,
        app: Starlette | None = None,
        *,
        app_id: str = "sync-app",
        base_url: str = "http://127.0.0.1/v1.0",
        page_size: int = 50,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._outbound = None if app else httpx.AsyncClient(transport=httpx.MockTransport(accepting_receiver))
        self.app: Starlette = app or create_app(outbound=self._outbound)
        self.emulator: Emulator = self.app.state.emulator
        self.state = self.emulator.state
        self._app_id = app_id
        self._base = base_url.rstrip("/")
        self._page_size = page_size
        self._sleep = sleep
        self.attachments = InProcessAttachments(self)

    # --- a person in Outlook ---

    async def outlook(self, client_id: str = "person") -> httpx.AsyncClient:
        """Graph REST on the same emulator with a token of its own (paths start with ``/v1.0``)."""
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1")
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
        token = await http.post("/tenant/oauth2/v2.0/token", data={**form, "scope": SCOPE})
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        return http

    # --- the wire, minus HTTP ---

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        prefer: bool = True,
        page: bool = False,
    ) -> Reply:
        """One request as GraphCalendar sends it (``prefer``: its ``Prefer`` values; ``page``: plus the page size)."""
        headers: dict[str, str] = {}
        if prefer:
            headers["prefer"] = ", ".join([*PREFER, f"odata.maxpagesize={self._page_size}"] if page else PREFER)
        if body is not None:
            headers["content-type"] = "application/json"
        call = Call(
            method=method,
            path=decode_path(path),
            query=dict(query or {}),
            headers=headers,
            prefer=[headers["prefer"]] if prefer else [],
            body=body,
            app_id=self._app_id,
            base_url=self._base,
        )
        retries = 0
        while True:
            reply = await self.emulator.api.dispatcher.run(call)
            if reply.status < 400:
                return reply
            if reply.status in _RETRY_STATUS and retries < _MAX_RETRIES:
                delay = _retry_delay(retries, reply.headers)
                if delay < _MAX_DELAY:
                    await self._sleep(delay)
                    retries += 1
                    continue
            error = reply.body.get("error") if isinstance(reply.body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            raise graph_error(reply.status, code if isinstance(code, str) else None, reply.headers)

    def _url(self, link: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(link)
        path = parts.path.split("/v1.0", 1)[1] if "/v1.0" in parts.path else parts.path
        return path, dict(parse_qsl(parts.query, keep_blank_values=True))

    # --- delta ---

    async def delta_start(self, mailbox: str, *, start: datetime, end: datetime) -> DeltaResult:
        query = {"startDateTime": _utc(start), "endDateTime": _utc(end)}
        reply = await self._send("GET", f"{_user(mailbox)}/calendarView/delta()", query=query, page=True)
        return await self._follow_pages(reply.body)

    async def delta_follow(self, delta_link: str) -> DeltaResult:
        path, query = self._url(delta_link)
        return await self._follow_pages((await self._send("GET", path, query=query, page=True)).body)

    async def _follow_pages(self, page: Any) -> DeltaResult:
        entries: list[DeltaEntry] = []
        foreign: set[str] = set()
        while True:
            if not isinstance(page, dict):
                raise GraphError("empty delta page")
            for item in page.get("value") or []:
                if is_foreign(item):
                    foreign.add(str(item.get("id")))
                if "@removed" in item:
                    entries.append(DeltaEntry(event_id=item.get("id") or ""))
                else:
                    entries.append(DeltaEntry(event_id=item.get("id") or "", event=event_from_json(item)))
            if page.get("@odata.deltaLink"):
                return DeltaResult(
                    entries=tuple(entries), delta_link=page["@odata.deltaLink"], foreign=frozenset(foreign)
                )
            if not page.get("@odata.nextLink"):
                raise GraphError("delta page without nextLink or deltaLink")
            path, query = self._url(page["@odata.nextLink"])
            page = (await self._send("GET", path, query=query, page=True)).body

    # --- events ---

    async def get_event(self, mailbox: str, event_id: str) -> M365Event:
        reply = await self._send("GET", _event(mailbox, event_id), query={"$expand": _STAMP_EXPAND})
        if not isinstance(reply.body, dict):
            raise GraphNotFound("event not found", status=404)
        return event_from_json(reply.body)

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event:
        reply = await self._send("POST", f"{_user(mailbox)}/events", body=body_from_write(write))
        if not isinstance(reply.body, dict):
            raise GraphError("create answered no event")
        created = reply.body
        if write.erp_stamp is not None and not created.get("singleValueExtendedProperties"):
            # As GraphCalendar: a create's answer omits extended properties; we know the stamp we sent.
            created = {
                **created,
                "singleValueExtendedProperties": [{"id": ERP_STAMP_PROPERTY, "value": write.erp_stamp}],
            }
        return event_from_json(created)

    async def update_event(self, mailbox: str, event_id: str, write: EventWrite) -> M365Event:
        reply = await self._send("PATCH", _event(mailbox, event_id), body=body_from_write(write))
        if not isinstance(reply.body, dict):
            raise GraphError("update answered no event")
        return event_from_json(reply.body)

    async def instances(
        self, mailbox: str, series_master_id: str, *, start: datetime, end: datetime
    ) -> Sequence[M365Event]:
        query = {
            "startDateTime": _utc(start),
            "endDateTime": _utc(end),
            "$expand": _STAMP_EXPAND,
            "$top": str(self._page_size),
        }
        page = (await self._send("GET", f"{_event(mailbox, series_master_id)}/instances", query=query)).body
        return await self._all_pages(page)

    async def events_by_ical_uid(self, mailbox: str, ical_uid: str) -> Sequence[M365Event]:
        query = {"$filter": f"iCalUId eq '{ical_uid.replace(chr(39), chr(39) * 2)}'", "$expand": _STAMP_EXPAND}
        return await self._all_pages((await self._send("GET", f"{_user(mailbox)}/events", query=query)).body)

    async def stamped_events(self, mailbox: str) -> Mapping[str, str]:
        """The same filtered listing ``GraphCalendar.stamped_events`` sends (id → stamp, every page)."""
        query = {"$filter": STAMPED_FILTER, "$select": "id", "$expand": _STAMP_EXPAND, "$top": str(STAMPED_PAGE)}
        page = (await self._send("GET", f"{_user(mailbox)}/events", query=query)).body
        found: dict[str, str] = {}
        while isinstance(page, dict):
            for item in page.get("value") or []:
                stamp = stamp_of(item)
                if stamp is not None and item.get("id"):
                    found[str(item["id"])] = stamp
            if not page.get("@odata.nextLink"):
                break
            path, query = self._url(page["@odata.nextLink"])
            page = (await self._send("GET", path, query=query)).body
        return found

    async def _all_pages(self, page: Any) -> tuple[M365Event, ...]:
        """Every event of a collection answer, following ``@odata.nextLink``."""
        found: list[M365Event] = []
        while isinstance(page, dict):
            found.extend(event_from_json(e) for e in page.get("value") or [])
            if not page.get("@odata.nextLink"):
                break
            path, query = self._url(page["@odata.nextLink"])
            page = (await self._send("GET", path, query=query)).body
        return tuple(found)

    async def respond(self, mailbox: str, event_id: str, response: str) -> None:
        if response not in _ACTIONS:
            raise ValueError(f"response must be one of {', '.join(RESPONSES)}, not {response!r}")
        # msgraph-sdk writes action parameters in PascalCase.
        path = f"{_event(mailbox, event_id)}/{_ACTIONS[response]}"
        await self._send("POST", path, body={"SendResponse": False}, prefer=False)

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        try:
            await self._send("DELETE", _event(mailbox, event_id), prefer=False)
        except GraphNotFound:
            return

    async def read_events(self, mailbox: str, event_ids: Sequence[str]) -> dict[str, M365Event | None]:
        """The port's batch read, one ``get_event`` at a time."""
        found: dict[str, M365Event | None] = {}
        for event_id in dict.fromkeys(event_ids):
            try:
                found[event_id] = await self.get_event(mailbox, event_id)
            except GraphNotFound:
                found[event_id] = None
        return found

    async def write_events(self, mailbox: str, changes: Sequence[EventChange]) -> list[EventChangeResult]:
        """The port's batch write, one request at a time (each with the retries of ``_send``)."""
        results: list[EventChangeResult] = []
        for change in changes:
            try:
                if change.kind == "create" and change.write is not None:
                    results.append(EventChangeResult(event=await self.create_event(mailbox, change.write)))
                elif change.kind == "update" and change.event_id and change.write is not None:
                    event = await self.update_event(mailbox, change.event_id, change.write)
                    results.append(EventChangeResult(event=event))
                elif change.kind == "delete" and change.event_id:
                    await self.delete_event(mailbox, change.event_id)
                    results.append(EventChangeResult())
                else:
                    raise ValueError(f"incomplete {change.kind}")
            except GraphError as error:
                results.append(EventChangeResult(error=error))
        return results

    # --- attachments (the requests GraphAttachments sends; emulators.fakes.calendar_attachments) ---

    async def event_attachments(self, mailbox: str, event_id: str) -> Sequence[EventAttachment]:
        return await self.attachments.list(mailbox, event_id)

    def read_event_attachment(self, mailbox: str, event_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        return self.attachments.read(mailbox, event_id, attachment_id)

    async def add_event_attachment(
        self, mailbox: str, event_id: str, meta: FileMeta, content: AsyncIterable[bytes]
    ) -> EventAttachment:
        return await self.attachments.add(mailbox, event_id, meta, content)

    async def remove_event_attachment(self, mailbox: str, event_id: str, attachment_id: str) -> None:
        await self.attachments.remove(mailbox, event_id, attachment_id)

    # --- subscriptions ---

    async def create_subscription(
        self, mailbox: str, *, notification_url: str, lifecycle_url: str | None, client_state: str, expires_at: datetime
    ) -> Subscription:
        body = {
            "@odata.type": "#microsoft.graph.subscription",
            "changeType": "created,updated,deleted",
            "clientState": client_state,
            "expirationDateTime": expires_at.isoformat(),
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrl": notification_url,
            "resource": f"/users/{mailbox}/events",
        }
        if lifecycle_url:
            body["lifecycleNotificationUrl"] = lifecycle_url
        return _subscription((await self._send("POST", "/subscriptions", body=body, prefer=False)).body)

    async def renew_subscription(self, subscription_id: str, *, expires_at: datetime) -> Subscription:
        body = {"@odata.type": "#microsoft.graph.subscription", "expirationDateTime": expires_at.isoformat()}
        path = f"/subscriptions/{quote(subscription_id, safe='')}"
        return _subscription((await self._send("PATCH", path, body=body, prefer=False)).body)

    async def delete_subscription(self, subscription_id: str) -> None:
        try:
            await self._send("DELETE", f"/subscriptions/{quote(subscription_id, safe='')}", prefer=False)
        except GraphNotFound:
            return

    async def subscriptions(self) -> Sequence[Subscription]:
        listed = (await self._send("GET", "/subscriptions", prefer=False)).body
        return tuple(_subscription(s) for s in (listed.get("value") or [] if isinstance(listed, dict) else []))

    async def aclose(self) -> None:
        if self._outbound is not None:
            await self.emulator.notifier.close()
            await self._outbound.aclose()


def _user(mailbox: str) -> str:
    return f"/users/{quote(mailbox, safe='')}"


def _event(mailbox: str, event_id: str) -> str:
    return f"{_user(mailbox)}/events/{quote(event_id, safe='')}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _retry_delay(retries: int, headers: dict[str, str]) -> float:
    """kiota's ``RetryHandler.get_delay_time``: Retry-After seconds when above zero, else its backoff."""
    raw = {k.lower(): v for k, v in headers.items()}.get("retry-after", "")
    if raw.isdigit() and int(raw) > 0:
        return float(raw)
    return min(_BACKOFF_MAX, 0.5 * 2.0 ** (retries - 1) + random.randint(0, 1000) / 1000 + _BASE_DELAY)


def _subscription(value: Any) -> Subscription:
    expires = value.get("expirationDateTime") if isinstance(value, dict) else None
    moment = datetime_from_iso_format_compat(expires) if isinstance(expires, str) and len(expires) >= 10 else None
    if not isinstance(value, dict) or not value.get("id") or not isinstance(moment, datetime):
        raise GraphError("subscription answer without id or expiry")
    return Subscription(id=value["id"], resource=value.get("resource") or "", expires_at=moment)
