"""``GraphCalendar``: the calendar port on Microsoft Graph v1.0 through msgraph-sdk.

Every request carries ``Prefer`` headers for UTC times, text bodies and immutable ids (graph-facts §3),
on a fresh ``HeadersCollection`` each time (the SDK's default one is shared, §5). The HTTP client is
built by ``GraphClientFactory`` so the SDK's retry handler (429/503/504, Retry-After) is in place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph.generated.models.subscription import Subscription as GraphSubscription
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.accept.accept_post_request_body import AcceptPostRequestBody
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import DeclinePostRequestBody
from msgraph.generated.users.item.events.item.event_item_request_builder import EventItemRequestBuilder
from msgraph.generated.users.item.events.item.instances.instances_request_builder import InstancesRequestBuilder
from msgraph.generated.users.item.events.item.tentatively_accept.tentatively_accept_post_request_body import (
    TentativelyAcceptPostRequestBody,
)
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core.graph_client_factory import GraphClientFactory

from shared.core.attachments import EventAttachment, FileMeta
from shared.core.m365 import DeltaEntry, EventWrite, M365Event
from shared.errors import (
    GraphError,
    GraphNotFound,
    GraphTransient,
)
from shared.graph.attachments import GraphAttachments
from shared.graph.batch import send_batches
from shared.graph.convert import ERP_STAMP_PROPERTY
from shared.graph.events_json import delta_entry_from_json, event_from_json, is_foreign, stamp_of
from shared.graph.port import DeltaResult, EventChange, EventChangeResult, Subscription
from shared.graph.wire import MailboxSlots, graph_error, send_json, with_stamp, write_request

T = TypeVar("T")
PREFER = ('outlook.timezone="UTC"', 'outlook.body-content-type="text"', 'IdType="ImmutableId"')
_STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')"
STAMPED_FILTER = f"singleValueExtendedProperties/Any(ep: ep/id eq '{ERP_STAMP_PROPERTY}' and ep/value ne '')"
STAMPED_PAGE = 500
RESPONSES = ("accepted", "tentativelyAccepted", "declined")
_USER = re.compile(r"/users/([^/]+)/")


def graph_scope(base_url: str) -> str:
    """The app-only token scope for a Graph endpoint: its root followed by ``/.default``.

    A national cloud's Graph has its own root, and a token for it must name that root
    (https://learn.microsoft.com/graph/sdks/national-clouds): ``https://graph.microsoft.us/v1.0`` needs
    ``https://graph.microsoft.us/.default``, ``https://graph.microsoft.com/v1.0`` the global one.
    """
    url = httpx.URL(base_url)
    return f"{url.scheme}://{url.netloc.decode('ascii')}/.default"


def _headers(*extra: str) -> HeadersCollection:
    headers = HeadersCollection()
    headers.add("Prefer", [*PREFER, *extra])
    return headers


def _translate(error: APIError) -> GraphError:
    """Graph's status and error code to the project's errors; the message never holds a token."""
    code = getattr(getattr(error, "error", None), "code", None)
    return graph_error(error.response_status_code, code, error.response_headers or {})


async def _call(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except APIError as error:
        raise _translate(error) from None
    except httpx.TransportError as error:
        raise GraphTransient(f"Graph unreachable ({type(error).__name__})") from None


class GraphCalendar:
    """Calendars of the tenant's mailboxes, app-only."""

    def __init__(
        self,
        *,
        credential: AsyncTokenCredential,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = 100,
    ) -> None:
        host = httpx.URL(base_url).host
        auth = AzureIdentityAuthenticationProvider(credential, scopes=[graph_scope(base_url)], allowed_hosts=[host])
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30.0))
            if transport
            else httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        )
        adapter = GraphRequestAdapter(auth, http)
        adapter.base_url = base_url.rstrip("/")
        self._credential = credential
        self._http = http
        self._adapter = adapter
        self._slots = MailboxSlots()
        self._client = GraphServiceClient(request_adapter=adapter)
        self._page_size = page_size
        # Upload session PUTs go to a pre-authenticated URL: same HTTP client, no Authorization header.
        uploads = GraphRequestAdapter(AnonymousAuthenticationProvider(), http)
        self.attachments = GraphAttachments(
            client=self._client, adapter=adapter, uploads=uploads, slots=self._slots, headers=_headers
        )

    # --- delta (graph-facts §1) ---

    async def delta_start(self, mailbox: str, *, start: datetime, end: datetime) -> DeltaResult:
        builder = self._client.users.by_user_id(mailbox).calendar_view.delta
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=_utc(start), end_date_time=_utc(end)
        )
        config = RequestConfiguration(query_parameters=query, headers=_headers(f"odata.maxpagesize={self._page_size}"))
        return await self._follow_pages(mailbox, builder.to_get_request_information(config))

    async def delta_follow(self, delta_link: str) -> DeltaResult:
        found = _USER.search(httpx.URL(delta_link).path)
        return await self._follow_pages(unquote(found.group(1)) if found else "", self._delta_page(delta_link))

    def _delta_page(self, link: str) -> RequestInformation:
        builder = self._client.users.by_user_id("_").calendar_view.delta.with_url(link)
        config: RequestConfiguration[DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters] = RequestConfiguration(
            headers=_headers(f"odata.maxpagesize={self._page_size}")
        )
        return builder.to_get_request_information(config)

    async def _follow_pages(self, mailbox: str, first: RequestInformation) -> DeltaResult:
        """Every page of a delta round, read as JSON (``shared.graph.wire``), not as kiota models."""
        entries: list[DeltaEntry] = []
        foreign: set[str] = set()
        page = await self._send(mailbox, first)
        while True:
            if not isinstance(page, dict):
                raise GraphError("empty delta page")
            items = [item for item in page.get("value") or [] if isinstance(item, dict)]
            entries.extend(delta_entry_from_json(item) for item in items)
            foreign.update(str(item.get("id")) for item in items if is_foreign(item))
            if page.get("@odata.deltaLink"):
                link = str(page["@odata.deltaLink"])
                return DeltaResult(entries=tuple(entries), delta_link=link, foreign=frozenset(foreign))
            if not page.get("@odata.nextLink"):
                raise GraphError("delta page without nextLink or deltaLink")
            # Keep following nextLink even when a page is empty (graph-facts §1).
            page = await self._send(mailbox, self._delta_page(str(page["@odata.nextLink"])))

    # --- events ---

    def _event(self, mailbox: str, event_id: str) -> EventItemRequestBuilder:
        return self._client.users.by_user_id(mailbox).events.by_event_id(event_id)

    async def get_event(self, mailbox: str, event_id: str) -> M365Event:
        query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(expand=[_STAMP_EXPAND])
        config = RequestConfiguration(query_parameters=query, headers=_headers())
        event = await self._send(mailbox, self._event(mailbox, event_id).to_get_request_information(config))
        if not isinstance(event, dict):
            raise GraphNotFound("event not found", status=404)
        return event_from_json(event)

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event:
        info = write_request(self._client.users.by_user_id(mailbox).events, "POST", write, _headers())
        created = await self._send(mailbox, info)
        if not isinstance(created, dict):
            raise GraphError("create answered no event")
        return with_stamp(event_from_json(created), write)

    async def update_event(self, mailbox: str, event_id: str, write: EventWrite) -> M365Event:
        info = write_request(self._event(mailbox, event_id), "PATCH", write, _headers())
        updated = await self._send(mailbox, info)
        if not isinstance(updated, dict):
            raise GraphError("update answered no event")
        return event_from_json(updated)

    async def instances(
        self, mailbox: str, series_master_id: str, *, start: datetime, end: datetime
    ) -> Sequence[M365Event]:
        """``GET /users/{m}/events/{id}/instances?startDateTime&endDateTime`` (page "List instances"): the
        series' occurrences and exceptions in the window, cancelled ones left out, every page, stamp expanded."""
        builder = self._event(mailbox, series_master_id).instances
        query = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time=_utc(start), end_date_time=_utc(end), expand=[_STAMP_EXPAND], top=self._page_size
        )
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query, headers=_headers()))
        return tuple(event_from_json(e) for e in await self._every_item(mailbox, builder, info))

    async def events_by_ical_uid(self, mailbox: str, ical_uid: str) -> Sequence[M365Event]:
        """``GET /users/{m}/events?$filter=iCalUId eq '…'`` (page "List events"), every page, stamp expanded."""
        builder = self._client.users.by_user_id(mailbox).events
        query = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
            filter=f"iCalUId eq '{ical_uid.replace(chr(39), chr(39) * 2)}'", expand=[_STAMP_EXPAND]
        )
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query, headers=_headers()))
        return tuple(event_from_json(e) for e in await self._every_item(mailbox, builder, info))

    async def stamped_events(self, mailbox: str) -> Mapping[str, str]:
        """Every event of the mailbox that carries our ERP stamp, as event id → stamp: one filtered list
        (``$filter=singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value ne '')``, ``$select=id``,
        the stamp expanded; page "Get singleValueLegacyExtendedProperty",
        https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get), 500 a page.
        Calendar-view delta answers carry no extended properties and refuse ``$expand`` (page "event: delta"),
        so this replaces one ``GET /events/{id}`` per unlinked event."""
        builder = self._client.users.by_user_id(mailbox).events
        query = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
            filter=STAMPED_FILTER, select=["id"], expand=[_STAMP_EXPAND], top=STAMPED_PAGE
        )
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query, headers=_headers()))
        found: dict[str, str] = {}
        for item in await self._every_item(mailbox, builder, info):
            stamp = stamp_of(item)
            if stamp is not None and item.get("id"):
                found[str(item["id"])] = stamp
        return found

    async def _every_item(self, mailbox: str, builder: Any, first: RequestInformation) -> list[dict[str, Any]]:
        """Every item of a listing, following ``@odata.nextLink`` to the end (JSON, no kiota models)."""
        items: list[dict[str, Any]] = []
        page = await self._send(mailbox, first)
        while isinstance(page, dict):
            items.extend(i for i in page.get("value") or [] if isinstance(i, dict))
            link = page.get("@odata.nextLink")
            if not link:
                break
            info = builder.with_url(str(link)).to_get_request_information(RequestConfiguration(headers=_headers()))
            page = await self._send(mailbox, info)
        return items

    async def read_events(self, mailbox: str, event_ids: Sequence[str]) -> dict[str, M365Event | None]:
        """``GET /events/{id}`` with the stamp expanded, 20 to a ``$batch`` (R9 confirmations, stamp reads)."""
        wanted = list(dict.fromkeys(event_ids))
        if len(wanted) == 1:
            try:
                return {wanted[0]: await self.get_event(mailbox, wanted[0])}
            except GraphNotFound:
                return {wanted[0]: None}
        async with self._slots.every(mailbox):
            results = await send_batches(
                self._adapter,
                [EventChange(kind="read", event_id=i) for i in wanted],
                self._batch_request(mailbox),
                chained=False,
            )
        found: dict[str, M365Event | None] = {}
        for event_id, result in zip(wanted, results, strict=True):
            if result.error is not None:
                raise result.error
            found[event_id] = result.event
        return found

    async def write_events(self, mailbox: str, changes: Sequence[EventChange]) -> list[EventChangeResult]:
        """Creates, updates and deletes in ``$batch`` requests of 20 (``shared.graph.batch``), one at a time per
        mailbox and holding all of its 4 slots while it runs."""
        async with self._slots.every(mailbox):
            return await send_batches(self._adapter, changes, self._batch_request(mailbox))

    def _batch_request(self, mailbox: str) -> Callable[[EventChange], RequestInformation]:
        """The request msgraph-sdk builds for one batch item (create, update, delete, or read with our stamp)."""

        def build(change: EventChange) -> RequestInformation:
            headers = _headers()
            if change.kind == "create" and change.write is not None:
                return write_request(self._client.users.by_user_id(mailbox).events, "POST", change.write, headers)
            if change.event_id is None:
                raise ValueError(f"a {change.kind} needs the event's id")
            item = self._event(mailbox, change.event_id)
            if change.kind == "read":
                query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(expand=[_STAMP_EXPAND])
                read: RequestInformation = item.to_get_request_information(
                    RequestConfiguration(query_parameters=query, headers=headers)
                )
                return read
            if change.kind == "update" and change.write is not None:
                return write_request(item, "PATCH", change.write, headers)
            info: RequestInformation = item.to_delete_request_information(RequestConfiguration(headers=headers))
            return info

        return build

    async def _send(self, mailbox: str, info: RequestInformation) -> Any:
        """One request through the SDK's adapter, read as JSON, within the mailbox's 4 slots."""
        async with self._slots.one(mailbox):
            return await send_json(self._adapter, info)

    async def respond(self, mailbox: str, event_id: str, response: str) -> None:
        """accept / tentativelyAccept / decline with ``sendResponse: false`` (pages "event: accept", "event:
        tentativelyAccept", "event: decline"): 202. Responding to one's own meeting is a 400 (GraphInvalid)."""
        item = self._event(mailbox, event_id)
        if response == "accepted":
            await _call(lambda: item.accept.post(AcceptPostRequestBody(send_response=False)))
        elif response == "tentativelyAccepted":
            await _call(lambda: item.tentatively_accept.post(TentativelyAcceptPostRequestBody(send_response=False)))
        elif response == "declined":
            await _call(lambda: item.decline.post(DeclinePostRequestBody(send_response=False)))
        else:
            raise ValueError(f"response must be one of {', '.join(RESPONSES)}, not {response!r}")

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        try:
            async with self._slots.one(mailbox):
                await _call(lambda: self._event(mailbox, event_id).delete())
        except GraphNotFound:
            return

    # --- attachments (R18, shared.graph.attachments) ---

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

    # --- subscriptions (graph-facts §2) ---

    async def create_subscription(
        self, mailbox: str, *, notification_url: str, lifecycle_url: str | None, client_state: str, expires_at: datetime
    ) -> Subscription:
        body = GraphSubscription(
            change_type="created,updated,deleted",
            notification_url=notification_url,
            lifecycle_notification_url=lifecycle_url or None,
            resource=f"/users/{mailbox}/events",
            expiration_date_time=expires_at,
            client_state=client_state,
            latest_supported_tls_version="v1_2",
        )
        created = await _call(lambda: self._client.subscriptions.post(body))
        return _subscription(created)

    async def renew_subscription(self, subscription_id: str, *, expires_at: datetime) -> Subscription:
        body = GraphSubscription(expiration_date_time=expires_at)
        renewed = await _call(lambda: self._client.subscriptions.by_subscription_id(subscription_id).patch(body))
        return _subscription(renewed)

    async def delete_subscription(self, subscription_id: str) -> None:
        try:
            await _call(lambda: self._client.subscriptions.by_subscription_id(subscription_id).delete())
        except GraphNotFound:
            return

    async def subscriptions(self) -> Sequence[Subscription]:
        listed = await _call(lambda: self._client.subscriptions.get())
        return tuple(_subscription(s) for s in (listed.value if listed and listed.value else []))

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._credential.close()


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _subscription(value: GraphSubscription | None) -> Subscription:
    if value is None or not value.id or value.expiration_date_time is None:
        raise GraphError("subscription answer without id or expiry")
    return Subscription(id=value.id, resource=value.resource or "", expires_at=value.expiration_date_time)
