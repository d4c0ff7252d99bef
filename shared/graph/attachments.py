"""File attachments of events on Microsoft Graph (R18), for ``GraphCalendar`` and the in-process fake.

Pages: "List attachments" (https://learn.microsoft.com/en-us/graph/api/event-list-attachments), "Get attachment"
(https://learn.microsoft.com/en-us/graph/api/attachment-get, raw bytes with ``/$value``), "Add attachment"
(https://learn.microsoft.com/en-us/graph/api/event-post-attachments, under 3 MB), "attachment:
createUploadSession" (https://learn.microsoft.com/en-us/graph/api/attachment-createuploadsession), "Attach large
files to Outlook messages or events" (https://learn.microsoft.com/en-us/graph/outlook-large-attachments, 3 MB to
150 MB) and "Delete attachment" (https://learn.microsoft.com/en-us/graph/api/attachment-delete).

The ranged upload (``upload_ranges``) knows nothing of the transport: ``GraphAttachments`` sends each range
through msgraph-sdk's request adapter without authentication (the ``uploadUrl`` is pre-authenticated: "Do not
specify an Authorization request header"), the fake straight to the emulator's dispatcher. msgraph-core's
``LargeFileUploadTask`` does not fit: it needs the whole file as one ``BytesIO``, logs and swallows a failed
range, and sends through the authenticated adapter.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.method import Method
from kiota_abstractions.request_adapter import RequestAdapter
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.attachment_item import AttachmentItem
from msgraph.generated.models.attachment_type import AttachmentType
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.users.item.events.item.attachments.attachments_request_builder import (
    AttachmentsRequestBuilder,
)
from msgraph.generated.users.item.events.item.attachments.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody,
)
from msgraph.graph_service_client import GraphServiceClient

from shared.core.attachments import GRAPH_SINGLE_REQUEST_LIMIT, GRAPH_UPLOAD_SESSION_LIMIT, EventAttachment, FileMeta
from shared.errors import GraphError, GraphNotFound, GraphTooLarge, GraphTransient
from shared.graph.wire import MailboxSlots, error_code, graph_error, raise_for_error, send_json, send_native

FILE_TYPE = "#microsoft.graph.fileAttachment"
SELECT = ("id", "name", "contentType", "size", "isInline")
# One PUT carries "up to 4 MB" (page "attachment: createUploadSession"); 12 * 320 KiB = 3,932,160 bytes stays
# under 4 MB however counted and is a multiple of 320 KiB, the unit other Graph upload sessions ask for.
RANGE_SIZE = 12 * 320 * 1024
MAX_TRIES = 4  # a range is sent at most this often
_RETRY = (429, 500, 502, 503, 504)
_LONGEST_WAIT = 60.0  # a longer Retry-After (the upload budget's) ends the upload; the sync tries again later
_LOCATION_ID = re.compile(r"Attachments\('([^']+)'\)", re.IGNORECASE)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RangeAnswer:
    """Graph's answer to one PUT of a range: status, headers and JSON body (None when empty or not JSON)."""

    status: int
    headers: Mapping[str, str]
    body: Any = None


PutRange = Callable[[bytes, int, int], Awaitable[RangeAnswer]]  # (bytes, first byte's offset, file size)


def check_size(meta: FileMeta) -> None:
    """GraphTooLarge before a byte is sent when Graph would refuse the file (150 MB, page "Attach large files")."""
    if meta.size > GRAPH_UPLOAD_SESSION_LIMIT:
        raise GraphTooLarge(f"{meta.size} bytes is more than the 150 MB Graph attaches to an event", status=413)


def uses_session(meta: FileMeta) -> bool:
    """Under 3 MB one POST; from 3 MB an upload session (page "Attach large files")."""
    return meta.size >= GRAPH_SINGLE_REQUEST_LIMIT


def attachment_from_json(item: Any) -> EventAttachment | None:
    """A listed file attachment; None for item and reference attachments (``@odata.type``)."""
    if not isinstance(item, dict) or item.get("@odata.type") != FILE_TYPE or not item.get("id"):
        return None
    return EventAttachment(
        id=str(item["id"]),
        name=str(item.get("name") or "attachment"),
        content_type=str(item.get("contentType") or "application/octet-stream"),
        size=int(item.get("size") or 0),
        is_inline=bool(item.get("isInline")),
    )


def file_json(meta: FileMeta, content: bytes) -> dict[str, Any]:
    """The body msgraph-sdk serialises for a ``FileAttachment`` (the fake sends the same)."""
    return {
        "@odata.type": FILE_TYPE,
        "contentType": meta.content_type,
        "isInline": False,
        "name": meta.name,
        "contentBytes": base64.b64encode(content).decode("ascii"),
    }


def session_json(meta: FileMeta) -> dict[str, Any]:
    """The createUploadSession body msgraph-sdk serialises (``AttachmentItem``, page "attachmentItem")."""
    return {
        "AttachmentItem": {
            "attachmentType": "file",
            "contentType": meta.content_type,
            "name": meta.name,
            "size": meta.size,
        }
    }


async def read_exactly(content: AsyncIterable[bytes], size: int) -> bytes:
    """All of a small file (under 3 MB); ValueError when ``content`` holds more or fewer than ``size`` bytes."""
    data = bytearray()
    async for piece in content:
        data += piece
        if len(data) > size:
            raise ValueError(f"the file holds more than the {size} bytes its metadata says")
    if len(data) != size:
        raise ValueError(f"the file holds {len(data)} bytes, not the {size} its metadata says")
    return bytes(data)


def attachment_id(location: str | None) -> str:
    """The new attachment's id from the last PUT's ``Location`` (…/Attachments('{id}'))."""
    found = _LOCATION_ID.search(unquote(location or ""))
    if found is None:
        raise GraphError("the upload session ended without a Location naming the attachment")
    return found.group(1)


def _next_expected(body: Any) -> int | None:
    """The first byte the session still expects, from ``nextExpectedRanges`` (``"n"`` or ``"n-m"``)."""
    holder = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else body
    ranges = holder.get("nextExpectedRanges") if isinstance(holder, dict) else None
    if not isinstance(ranges, list) or not ranges:
        return None
    first = str(ranges[0]).split("-", 1)[0]
    return int(first) if first.isdigit() else None


def _wait(failures: int, headers: Mapping[str, str]) -> float:
    raw = {k.lower(): v for k, v in headers.items()}.get("retry-after", "")
    return float(raw) if raw.isdigit() else 0.5 * 2.0 ** (failures - 1)


async def _send_range(put: PutRange, chunk: bytes, start: int, total: int, sleep: Sleep) -> RangeAnswer:
    """One range, sent again after a transient failure from the byte the session expects next (a 416 names it:
    bytes must come in order, page "Attach large files")."""
    end = start + len(chunk)
    offset, failures = start, 0
    while True:
        headers: Mapping[str, str] = {}
        try:
            answer = await put(chunk[offset - start :], offset, total)
        except GraphTransient as error:
            failure: GraphError = error
        else:
            if answer.status in (200, 201):
                return answer
            headers = answer.headers
            failure = graph_error(answer.status, error_code(answer.body), answer.headers)
            if answer.status == 416:
                expected = _next_expected(answer.body)
                if expected == end:
                    return RangeAnswer(200, {}, None)  # an earlier try of this range arrived after all
                if expected is None or not start <= expected < end:
                    raise GraphTransient(f"the upload session expects byte {expected}", status=416) from None
                offset = expected
            elif answer.status not in _RETRY:
                raise failure
        failures += 1
        wait = _wait(failures, headers)
        if failures >= MAX_TRIES or wait > _LONGEST_WAIT:
            raise failure
        await sleep(wait)


async def upload_ranges(put: PutRange, content: AsyncIterable[bytes], total: int, sleep: Sleep) -> str:
    """Send ``total`` bytes from ``content`` in ranges of ``RANGE_SIZE``, in order, holding one range at a time;
    returns the last answer's ``Location`` (empty if none came). ValueError when ``content`` does not hold
    ``total`` bytes."""
    buffer = bytearray()
    offset = 0
    location: str | None = None

    async def send(chunk: bytes) -> None:
        nonlocal offset, location
        answer = await _send_range(put, chunk, offset, total, sleep)
        offset += len(chunk)
        # httpx's request and response refer to each other, so a sent range stays alive until the cycle collector
        # runs, and a big file's ranges would pile up; collecting the young generations frees each at once.
        gc.collect(1)
        found = {k.lower(): v for k, v in answer.headers.items()}.get("location")
        location = found or location

    async for piece in content:
        view = memoryview(piece)  # a piece bigger than a range is cut, never copied whole into the buffer
        while view:
            taken = min(RANGE_SIZE - len(buffer), len(view))
            buffer += view[:taken]
            view = view[taken:]
            if offset + len(buffer) > total:
                raise ValueError(f"the file holds more than the {total} bytes its metadata says")
            if len(buffer) == RANGE_SIZE:
                chunk = bytes(buffer)
                buffer.clear()
                await send(chunk)
                del chunk  # at most the range being filled and the one being sent are held
    if buffer:
        await send(bytes(buffer))
    if offset != total:
        raise ValueError(f"the file holds {offset} bytes, not the {total} its metadata says")
    return location or ""


class GraphAttachments:
    """The four attachment calls of ``GraphCalendar`` on msgraph-sdk's request builders and adapter.

    ``uploads`` is a request adapter on the same HTTP client (retry handler and all) whose authentication
    provider adds nothing: the PUTs go to the pre-authenticated ``uploadUrl``."""

    def __init__(
        self,
        *,
        client: GraphServiceClient,
        adapter: RequestAdapter,
        uploads: RequestAdapter,
        slots: MailboxSlots,
        headers: Callable[[], HeadersCollection],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._adapter = adapter
        self._uploads = uploads
        self._slots = slots
        self._headers = headers
        self.sleep = sleep

    def _builder(self, mailbox: str, event_id: str) -> AttachmentsRequestBuilder:
        return self._client.users.by_user_id(mailbox).events.by_event_id(event_id).attachments

    async def _send(self, mailbox: str, info: RequestInformation) -> Any:
        async with self._slots.one(mailbox):
            return await send_json(self._adapter, info)

    async def list(self, mailbox: str, event_id: str) -> tuple[EventAttachment, ...]:
        """``GET …/attachments?$select=id,name,contentType,size,isInline``, every page; files only."""
        builder = self._builder(mailbox, event_id)
        query = AttachmentsRequestBuilder.AttachmentsRequestBuilderGetQueryParameters(select=list(SELECT))
        info = builder.to_get_request_information(RequestConfiguration(query_parameters=query, headers=self._headers()))
        found: list[EventAttachment] = []
        page = await self._send(mailbox, info)
        while isinstance(page, dict):
            found.extend(a for a in map(attachment_from_json, page.get("value") or []) if a is not None)
            if not page.get("@odata.nextLink"):
                break
            link = builder.with_url(str(page["@odata.nextLink"]))
            page = await self._send(
                mailbox, link.to_get_request_information(RequestConfiguration(headers=self._headers()))
            )
        return tuple(found)

    async def read(self, mailbox: str, event_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        """``GET …/attachments/{id}/$value`` (the SDK has no builder for it: its template plus ``/$value``)."""
        item = self._builder(mailbox, event_id).by_attachment_id(attachment_id)
        template = item.url_template.split("{?", 1)[0] + "/$value"
        info = RequestInformation(Method.GET, template, item.path_parameters)
        async with self._slots.one(mailbox):
            response = await send_native(self._adapter, info)
        raise_for_error(response)
        # The SDK's adapter reads an answer whole; handing it on in one piece keeps it held once (slices would copy).
        yield response.content

    async def add(self, mailbox: str, event_id: str, meta: FileMeta, content: AsyncIterable[bytes]) -> EventAttachment:
        check_size(meta)
        builder = self._builder(mailbox, event_id)
        if not uses_session(meta):
            data = await read_exactly(content, meta.size)
            body = FileAttachment(
                odata_type=FILE_TYPE,
                name=meta.name,
                content_type=meta.content_type,
                content_bytes=data,
                is_inline=False,
            )
            info = builder.to_post_request_information(body, RequestConfiguration(headers=self._headers()))
            created = attachment_from_json(await self._send(mailbox, info))
            if created is None:
                raise GraphError("adding the attachment answered no file attachment")
            return created
        item = AttachmentItem(
            attachment_type=AttachmentType.File, name=meta.name, size=meta.size, content_type=meta.content_type
        )
        request = CreateUploadSessionPostRequestBody(attachment_item=item)
        info = builder.create_upload_session.to_post_request_information(
            request, RequestConfiguration(headers=self._headers())
        )
        session = await self._send(mailbox, info)
        url = session.get("uploadUrl") if isinstance(session, dict) else None
        if not url:
            raise GraphError("createUploadSession answered no uploadUrl")

        async def put(data: bytes, start: int, total: int) -> RangeAnswer:
            ranged = RequestInformation()
            ranged.http_method = Method.PUT
            ranged.url = str(url)
            ranged.headers.try_add("Content-Range", f"bytes {start}-{start + len(data) - 1}/{total}")
            ranged.set_stream_content(data)
            async with self._slots.one(mailbox):
                response = await send_native(self._uploads, ranged)
            return RangeAnswer(response.status_code, dict(response.headers), _json(response.content))

        try:
            location = await upload_ranges(put, content, meta.size, self.sleep)
        except Exception:
            await self._cancel(mailbox, str(url))
            raise
        return EventAttachment(
            id=attachment_id(location), name=meta.name, content_type=meta.content_type, size=meta.size
        )

    async def _cancel(self, mailbox: str, url: str) -> None:
        """``DELETE {uploadUrl}`` (page "Attach large files", Alternative: cancel the upload session), best effort."""
        info = RequestInformation()
        info.http_method = Method.DELETE
        info.url = url
        try:
            async with self._slots.one(mailbox):
                await send_native(self._uploads, info)
        except GraphError:
            return

    async def remove(self, mailbox: str, event_id: str, attachment_id: str) -> None:
        """``DELETE …/attachments/{id}``; one already gone (404) is fine."""
        info = (
            self._builder(mailbox, event_id)
            .by_attachment_id(attachment_id)
            .to_delete_request_information(RequestConfiguration(headers=self._headers()))
        )
        try:
            await self._send(mailbox, info)
        except GraphNotFound:
            return


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
