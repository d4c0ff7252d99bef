"""``InProcessCalendar``: the calendar port straight on the Graph emulator, in this process, for fast tests.

Every port call becomes the ``Call`` msgraph-sdk would have sent (same path, query, ``Prefer`` values and
JSON body) and runs through the emulator's dispatcher, so control-API faults, throttling and the request
log apply as they do over HTTP. What it skips is HTTP and kiota: the JSON answers are read by
``event_from_json``, a dict twin of ``shared.graph.convert.event_from_graph`` (kiota's model parsing costs
about 12 ms an event). Errors become the same ``shared.errors`` exceptions through ``graph_error``, and
429/503/504 are retried like the SDK's ``RetryHandler`` (3 retries, ``Retry-After`` or its backoff, none at
180 s or more); ``sleep`` may be swapped to skip the waits. ``tests/graph_port`` runs the same contract
against this and ``GraphCalendar``.

``app``/``emulator``/``state`` are the emulator itself: a test acts as a person in Outlook through
``outlook()`` (an HTTP client with a token) or seeds through ``emulator``.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from kiota_abstractions.date_utils import datetime_from_iso_format_compat
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.event_type import EventType as GraphEventType
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.models.sensitivity import Sensitivity
from starlette.applications import Starlette

from emulators.graph.app import Emulator, create_app
from emulators.graph.dispatch import Call, Reply, decode_path
from shared.core.items import Attendee, AttendeeRole
from shared.core.m365 import DeltaEntry, EventType, EventWrite, M365Event
from shared.core.timezones import UnknownTimeZone, covered_days, day_bounds, to_iana, to_windows, zone
from shared.errors import GraphError, GraphNotFound
from shared.graph.client import PREFER, RESPONSES, graph_error
from shared.graph.convert import ERP_STAMP_PROPERTY
from shared.graph.port import DeltaResult, Subscription

Sleep = Callable[[float], Awaitable[None]]
SCOPE = "https://graph.microsoft.com/.default"
_STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')"
_FRACTION = re.compile(r"(\.\d{6})\d+")
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
        while True:
            if not isinstance(page, dict):
                raise GraphError("empty delta page")
            for item in page.get("value") or []:
                if "@removed" in item:
                    entries.append(DeltaEntry(event_id=item.get("id") or ""))
                else:
                    entries.append(DeltaEntry(event_id=item.get("id") or "", event=event_from_json(item)))
            if page.get("@odata.deltaLink"):
                return DeltaResult(entries=tuple(entries), delta_link=page["@odata.deltaLink"])
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

    async def events_by_ical_uid(self, mailbox: str, ical_uid: str) -> Sequence[M365Event]:
        query = {"$filter": f"iCalUId eq '{ical_uid.replace(chr(39), chr(39) * 2)}'", "$expand": _STAMP_EXPAND}
        page = (await self._send("GET", f"{_user(mailbox)}/events", query=query)).body
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


# --- JSON ⇄ core, twins of shared.graph.convert (tests/graph_port/test_fake_fidelity.py keeps them equal) ---


def _enum(cls: type[Enum], raw: Any, default: str) -> str:
    """kiota's enum lookup (``raw[0].upper() + raw[1:]``, ``none`` → ``None_``), then ``_enum_value``."""
    if raw is None or not str(raw):
        return default
    text = str(raw)
    key = "None_" if text.lower() == "none" else text[0].upper() + text[1:]
    member = cls.__members__.get(key)
    value = member.value if member is not None else None
    return value if isinstance(value, str) and value else default


def _local(value: Any) -> datetime:
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise ValueError("event without start or end")
    return datetime.fromisoformat(_FRACTION.sub(r"\1", str(value["dateTime"]).rstrip("Z")))


def _when(value: Any) -> datetime:
    """``parse_graph_datetime`` on the JSON ``dateTimeTimeZone``."""
    moment = _local(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(value.get("timeZone") or "UTC"))
    return moment.astimezone(UTC)


def _days(start: Any, end: Any, zone_name: str) -> tuple[datetime, datetime]:
    """``parse_graph_days``: an all-day event's floating midnights are its dates, in the event's zone."""
    return day_bounds(*covered_days(_local(start), _local(end)), zone_name)


def _stamp_of(d: dict[str, Any]) -> str | None:
    for p in d.get("singleValueExtendedProperties") or []:
        if str(p.get("id") or "").lower() == ERP_STAMP_PROPERTY.lower():
            return p.get("value")  # type: ignore[no-any-return]
    return None


def event_from_json(d: dict[str, Any]) -> M365Event:
    """``event_from_graph`` on Graph's JSON event, without kiota."""
    try:
        zone_name = to_iana(d.get("originalStartTimeZone"))
    except UnknownTimeZone:
        zone_name = "UTC"
    attendees = tuple(
        Attendee(
            email=str(a["emailAddress"]["address"]).lower(),
            name=a["emailAddress"].get("name") or "",
            role=AttendeeRole(_enum(AttendeeType, a.get("type"), "required")),
            response=_enum(ResponseType, (a.get("status") or {}).get("response"), "none"),
        )
        for a in d.get("attendees") or []
        if a.get("emailAddress") and a["emailAddress"].get("address")
    )
    location = d.get("location")
    organizer = (d.get("organizer") or {}).get("emailAddress")
    modified = d.get("lastModifiedDateTime")
    if d.get("isAllDay"):
        start, end = _days(d.get("start"), d.get("end"), zone_name)
    else:
        start, end = _when(d.get("start")), _when(d.get("end"))
    return M365Event(
        id=d.get("id") or "",
        ical_uid=d.get("iCalUId"),
        change_key=d.get("changeKey"),
        type=EventType(_enum(GraphEventType, d.get("type"), "singleInstance")),
        series_master_id=d.get("seriesMasterId"),
        subject=d.get("subject") or "",
        body=(d["body"].get("content") or "") if d.get("body") else "",
        start=start,
        end=end,
        time_zone=zone_name,
        is_all_day=bool(d.get("isAllDay")),
        is_cancelled=bool(d.get("isCancelled")),
        is_organizer=d.get("isOrganizer") is not False,
        response=_enum(ResponseType, (d.get("responseStatus") or {}).get("response"), "organizer"),
        show_as=_enum(FreeBusyStatus, d.get("showAs"), "busy"),
        sensitivity=_enum(Sensitivity, d.get("sensitivity"), "normal"),
        location=(location.get("displayName") or "") if location else "",
        location_email=(location.get("locationEmailAddress") or None) if location else None,
        attendees=attendees,
        categories=tuple(d.get("categories") or ()),
        organizer_email=organizer.get("address") if organizer else None,
        last_modified=datetime_from_iso_format_compat(modified)
        if isinstance(modified, str) and len(modified) >= 10
        else None,
        web_link=d.get("webLink"),
        erp_stamp=_stamp_of(d),
    )


def body_from_write(write: EventWrite) -> dict[str, Any]:
    """The JSON msgraph-sdk sends for ``graph_from_write(write)``."""
    body: dict[str, Any] = {"@odata.type": "#microsoft.graph.event"}
    fields = write.model_fields_set
    if "subject" in fields and write.subject is not None:
        body["subject"] = write.subject
    if "body" in fields:
        body["body"] = {"content": write.body or "", "contentType": "text"}
    if "start" in fields or "end" in fields:
        zone_name = to_windows(write.time_zone or "UTC")
        if write.start is not None:
            body["start"] = {"dateTime": write.start.isoformat(), "timeZone": zone_name}
        if write.end is not None:
            body["end"] = {"dateTime": write.end.isoformat(), "timeZone": zone_name}
    if "is_all_day" in fields and write.is_all_day is not None:
        body["isAllDay"] = write.is_all_day
    if "show_as" in fields and write.show_as:
        body["showAs"] = FreeBusyStatus(write.show_as).value
    if "sensitivity" in fields and write.sensitivity:
        body["sensitivity"] = Sensitivity(write.sensitivity).value
    if "location" in fields or "location_email" in fields:
        location: dict[str, Any] = {"displayName": write.location or ""}
        if write.location_email:
            location["locationEmailAddress"] = write.location_email
        location["locationType"] = "conferenceRoom" if write.location_email else "default"
        body["location"] = location
    if "attendees" in fields:
        body["attendees"] = [
            {
                "emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})},
                "@odata.type": "#microsoft.graph.attendee",
                "type": AttendeeType(a.role.value).value,
            }
            for a in (write.attendees or ())
        ]
    if "categories" in fields:
        body["categories"] = list(write.categories or ())
    if write.erp_stamp is not None:
        body["singleValueExtendedProperties"] = [{"id": ERP_STAMP_PROPERTY, "value": write.erp_stamp}]
    if write.transaction_id is not None:
        body["transactionId"] = write.transaction_id
    return body


def _subscription(value: Any) -> Subscription:
    expires = value.get("expirationDateTime") if isinstance(value, dict) else None
    moment = datetime_from_iso_format_compat(expires) if isinstance(expires, str) and len(expires) >= 10 else None
    if not isinstance(value, dict) or not value.get("id") or not isinstance(moment, datetime):
        raise GraphError("subscription answer without id or expiry")
    return Subscription(id=value["id"], resource=value.get("resource") or "", expires_at=moment)
