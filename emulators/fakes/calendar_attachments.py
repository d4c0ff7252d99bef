"""The attachment calls of ``InProcessCalendar`` (R18): the requests ``GraphAttachments`` sends, run on the
emulator's dispatcher.

Same paths, query and JSON bodies as msgraph-sdk builds them (``shared.graph.attachments.file_json`` and
``session_json``), the same ranged upload (``upload_ranges``: ranges of 3,932,160 bytes, a failed range sent again
from the byte the session expects), and the upload URL's requests without a token (``pre_authenticated``), as
``emulators.graph.app`` hands them to the dispatcher. JSON requests get ``InProcessCalendar._send``'s retries,
which mirror the SDK's retry handler; the PUTs of bytes get none from it (the handler leaves
``application/octet-stream`` bodies alone), only ``upload_ranges``' own.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlsplit

from emulators.graph.dispatch import Call, Reply, decode_path
from shared.core.attachments import EventAttachment, FileMeta
from shared.errors import GraphError, GraphNotFound
from shared.graph.attachments import (
    SELECT,
    RangeAnswer,
    attachment_from_json,
    attachment_id,
    check_size,
    file_json,
    read_exactly,
    session_json,
    upload_ranges,
    uses_session,
)

if TYPE_CHECKING:
    from emulators.fakes.calendar import InProcessCalendar


def _attachments(mailbox: str, event_id: str) -> str:
    return f"/users/{quote(mailbox, safe='')}/events/{quote(event_id, safe='')}/attachments"


class InProcessAttachments:
    """List, read, add (one POST or an upload session) and remove an event's files."""

    def __init__(self, calendar: InProcessCalendar) -> None:
        self._calendar = calendar

    async def list(self, mailbox: str, event_id: str) -> tuple[EventAttachment, ...]:
        cal = self._calendar
        query = {"$select": ",".join(SELECT)}
        page = (await cal._send("GET", _attachments(mailbox, event_id), query=query)).body
        found: list[EventAttachment] = []
        while isinstance(page, dict):
            found.extend(a for a in map(attachment_from_json, page.get("value") or []) if a is not None)
            if not page.get("@odata.nextLink"):
                break
            path, query = cal._url(page["@odata.nextLink"])
            page = (await cal._send("GET", path, query=query)).body
        return tuple(found)

    async def read(self, mailbox: str, event_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        path = f"{_attachments(mailbox, event_id)}/{quote(attachment_id, safe='')}/$value"
        content = (await self._calendar._send("GET", path, prefer=False)).body
        yield bytes(content) if isinstance(content, bytes | bytearray) else b""  # whole, as GraphCalendar hands it

    async def add(self, mailbox: str, event_id: str, meta: FileMeta, content: AsyncIterable[bytes]) -> EventAttachment:
        check_size(meta)
        cal = self._calendar
        path = _attachments(mailbox, event_id)
        if not uses_session(meta):
            body = file_json(meta, await read_exactly(content, meta.size))
            created = attachment_from_json((await cal._send("POST", path, body=body)).body)
            if created is None:
                raise GraphError("adding the attachment answered no file attachment")
            return created
        session = (await cal._send("POST", f"{path}/createUploadSession", body=session_json(meta))).body
        url = str(session.get("uploadUrl") or "") if isinstance(session, dict) else ""
        if not url:
            raise GraphError("createUploadSession answered no uploadUrl")

        async def put(data: bytes, start: int, total: int) -> RangeAnswer:
            headers = {
                "content-range": f"bytes {start}-{start + len(data) - 1}/{total}",
                "content-length": str(len(data)),
                "content-type": "application/octet-stream",
            }
            reply = await self._pre_authenticated("PUT", url, headers, data)
            return RangeAnswer(reply.status, reply.headers, reply.body)

        try:
            location = await upload_ranges(put, content, meta.size, cal._sleep)
        except Exception:
            await self._pre_authenticated("DELETE", url, {}, b"")
            raise
        return EventAttachment(
            id=attachment_id(location), name=meta.name, content_type=meta.content_type, size=meta.size
        )

    async def remove(self, mailbox: str, event_id: str, attachment_id: str) -> None:
        try:
            await self._calendar._send("DELETE", f"{_attachments(mailbox, event_id)}/{quote(attachment_id, safe='')}")
        except GraphNotFound:
            return

    async def _pre_authenticated(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        """A request to an upload session's URL, as the emulator's app route hands it on (no token)."""
        cal = self._calendar
        parts = urlsplit(url)
        call = Call(
            method=method,
            path=decode_path(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            prefer=[],
            body=body,
            app_id=cal._app_id,
            base_url=cal._base,
            pre_authenticated=True,
        )
        return await cal.emulator.api.dispatcher.run(call)
