"""``GraphCalendar``: the calendar port on Microsoft Graph v1.0 through msgraph-sdk.

Every request carries ``Prefer`` headers for UTC times, text bodies and immutable ids (graph-facts §3),
on a fresh ``HeadersCollection`` each time (the SDK's default one is shared, §5). The HTTP client is
built by ``GraphClientFactory`` so the SDK's retry handler (429/503/504, Retry-After) is in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph.generated.models.event import Event
from msgraph.generated.models.subscription import Subscription as GraphSubscription
from msgraph.generated.users.item.calendar_view.delta.delta_get_response import DeltaGetResponse
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

from shared.core.m365 import DeltaEntry, EventWrite, M365Event
from shared.errors import (
    GraphError,
    GraphInvalid,
    GraphMailboxUnavailable,
    GraphNotFound,
    GraphSyncStateLost,
    GraphTransient,
)
from shared.graph.convert import ERP_STAMP_PROPERTY, event_from_graph, graph_from_write
from shared.graph.port import DeltaResult, Subscription

T = TypeVar("T")
PREFER = ('outlook.timezone="UTC"', 'outlook.body-content-type="text"', 'IdType="ImmutableId"')
_STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')"
RESPONSES = ("accepted", "tentativelyAccepted", "declined")


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
        page_size: int = 50,
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
        self._client = GraphServiceClient(request_adapter=adapter)
        self._page_size = page_size

    # --- delta (graph-facts §1) ---

    async def delta_start(self, mailbox: str, *, start: datetime, end: datetime) -> DeltaResult:
        builder = self._client.users.by_user_id(mailbox).calendar_view.delta
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=_utc(start), end_date_time=_utc(end)
        )
        config = RequestConfiguration(query_parameters=query, headers=_headers(f"odata.maxpagesize={self._page_size}"))
        first = await _call(lambda: builder.get(request_configuration=config))
        return await self._follow_pages(builder, first)

    async def delta_follow(self, delta_link: str) -> DeltaResult:
        builder = self._client.users.by_user_id("_").calendar_view.delta.with_url(delta_link)
        config: RequestConfiguration[DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters] = RequestConfiguration(
            headers=_headers(f"odata.maxpagesize={self._page_size}")
        )
        first = await _call(lambda: builder.get(request_configuration=config))
        return await self._follow_pages(builder, first)

    async def _follow_pages(self, builder: DeltaRequestBuilder, page: DeltaGetResponse | None) -> DeltaResult:
        entries: list[DeltaEntry] = []
        while True:
            if page is None:
                raise GraphError("empty delta page")
            for event in page.value or []:
                entries.append(_delta_entry(event))
            if page.odata_delta_link:
                return DeltaResult(entries=tuple(entries), delta_link=page.odata_delta_link)
            if not page.odata_next_link:
                raise GraphError("delta page without nextLink or deltaLink")
            # Keep following nextLink even when a page is empty (graph-facts §1).
            next_builder = builder.with_url(page.odata_next_link)
            config: RequestConfiguration[DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters] = (
                RequestConfiguration(headers=_headers(f"odata.maxpagesize={self._page_size}"))
            )
            page = await _call(lambda b=next_builder, c=config: b.get(request_configuration=c))  # type: ignore[misc]

    # --- events ---

    def _event(self, mailbox: str, event_id: str) -> EventItemRequestBuilder:
        return self._client.users.by_user_id(mailbox).events.by_event_id(event_id)

    async def get_event(self, mailbox: str, event_id: str) -> M365Event:
        query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(expand=[_STAMP_EXPAND])
        config = RequestConfiguration(query_parameters=query, headers=_headers())
        event = await _call(lambda: self._event(mailbox, event_id).get(request_configuration=config))
        if event is None:
            raise GraphNotFound("event not found", status=404)
        return event_from_graph(event)

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event:
        body = graph_from_write(write)
        config: RequestConfiguration[object] = RequestConfiguration(headers=_headers())
        created = await _call(
            lambda: self._client.users.by_user_id(mailbox).events.post(
                body,
                request_configuration=config,  # type: ignore[arg-type]  # the SDK types POST config as unbound
            )
        )
        if created is None:
            raise GraphError("create answered no event")
        return event_from_graph(_with_stamp(created, write))

    async def update_event(self, mailbox: str, event_id: str, write: EventWrite) -> M365Event:
        body = graph_from_write(write)
        config: RequestConfiguration[object] = RequestConfiguration(headers=_headers())
        updated = await _call(lambda: self._event(mailbox, event_id).patch(body, request_configuration=config))  # type: ignore[arg-type]
        if updated is None:
            raise GraphError("update answered no event")
        return event_from_graph(updated)

    async def instances(
        self, mailbox: str, series_master_id: str, *, start: datetime, end: datetime
    ) -> Sequence[M365Event]:
        """``GET /users/{m}/events/{id}/instances?startDateTime&endDateTime`` (page "List instances"): the
        series' occurrences and exceptions in the window, cancelled ones left out, every page, stamp expanded."""
        builder = self._event(mailbox, series_master_id).instances
        query = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time=_utc(start), end_date_time=_utc(end), expand=[_STAMP_EXPAND], top=self._page_size
        )
        return await _every_page(builder, RequestConfiguration(query_parameters=query, headers=_headers()))

    async def events_by_ical_uid(self, mailbox: str, ical_uid: str) -> Sequence[M365Event]:
        """``GET /users/{m}/events?$filter=iCalUId eq '…'`` (page "List events"), every page, stamp expanded."""
        builder = self._client.users.by_user_id(mailbox).events
        query = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
            filter=f"iCalUId eq '{ical_uid.replace(chr(39), chr(39) * 2)}'", expand=[_STAMP_EXPAND]
        )
        return await _every_page(builder, RequestConfiguration(query_parameters=query, headers=_headers()))

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
            await _call(lambda: self._event(mailbox, event_id).delete())
        except GraphNotFound:
            return

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


async def _every_page(builder: Any, config: Any) -> tuple[M365Event, ...]:
    """Every event of a listing (``instances``, ``events``), following ``@odata.nextLink`` to the end."""
    page = await _call(lambda: builder.get(request_configuration=config))
    found: list[M365Event] = []
    while page is not None:
        found.extend(event_from_graph(e) for e in page.value or [])
        if not page.odata_next_link:
            break
        next_builder: Any = builder.with_url(page.odata_next_link)
        next_config: Any = RequestConfiguration(headers=_headers())
        page = await _call(lambda b=next_builder, c=next_config: b.get(request_configuration=c))  # type: ignore[misc]
    return tuple(found)


def _delta_entry(event: Event) -> DeltaEntry:
    if event.additional_data and "@removed" in event.additional_data:
        return DeltaEntry(event_id=event.id or "")
    return DeltaEntry(event_id=event.id or "", event=event_from_graph(event))


def _with_stamp(created: Event, write: EventWrite) -> Event:
    """A create's answer omits extended properties unless expanded; we know the stamp we sent."""
    if write.erp_stamp is not None and not created.single_value_extended_properties:
        from msgraph.generated.models.single_value_legacy_extended_property import (
            SingleValueLegacyExtendedProperty,
        )

        created.single_value_extended_properties = [
            SingleValueLegacyExtendedProperty(id=ERP_STAMP_PROPERTY, value=write.erp_stamp)
        ]
    return created


def _subscription(value: GraphSubscription | None) -> Subscription:
    if value is None or not value.id or value.expiration_date_time is None:
        raise GraphError("subscription answer without id or expiry")
    return Subscription(id=value.id, resource=value.resource or "", expires_at=value.expiration_date_time)
