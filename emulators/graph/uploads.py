"""Attachment upload sessions: ``createUploadSession`` and the PUTs on its pre-authenticated ``uploadUrl``.

Pages: "attachment: createUploadSession" (https://learn.microsoft.com/en-us/graph/api/attachment-createuploadsession),
"Attach large files to Outlook messages or events" (https://learn.microsoft.com/en-us/graph/outlook-large-attachments)
and "uploadSession resource type" (https://learn.microsoft.com/en-us/graph/api/resources/uploadsession).

- ``POST …/events/{id}/attachments/createUploadSession`` ``{"AttachmentItem": {attachmentType: "file", name,
  size, contentType?, isInline?, contentId?}}``: 201 ``{uploadUrl, expirationDateTime, nextExpectedRanges:
  ["0-"]}``. A size under 3 MB is refused with ``ErrorAttachmentSizeShouldNotBeLessThanMinimumSize`` ("Attach
  large files", section Errors); past 150 MB (the most "Attach large files" allows) with 413.
- ``PUT {uploadUrl}`` with ``Content-Range: bytes {start}-{end}/{total}`` and the bytes: the URL is
  pre-authenticated, so a request with an ``Authorization`` header is refused (401); bytes must come in order
  ("You must upload bytes in a file in order"): a range that does not start at the next expected byte is a 416
  whose error carries ``nextExpectedRanges``; ``Content-Length`` must be the range's length; a range may hold
  at most 4 MB ("up to 4 MB each time", createUploadSession). An intermediate PUT answers 200
  ``{ExpirationDateTime, nextExpectedRanges: ["{next}"]}`` (the page's example spells it so); the last one 201
  with an empty body and ``Location: …/Users('{user}')/Events('{event}')/Attachments('{id}')``.
- The session expires at ``expirationDateTime`` (the emulator's clock), which PUTs do not extend ("This
  expiration date/time remains the same"); afterwards its URL answers 404. ``DELETE {uploadUrl}`` cancels: 204.

The upload URL lives outside ``/v1.0`` (``/api/v2.0/…?authtoken=…``, as Outlook's does); ``emulators.graph.app``
routes it here through the dispatcher with ``pre_authenticated`` set, so throttling, faults, the request log and
the upload budget apply.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from emulators.graph import ids
from emulators.graph.attachment_files import new_attachment_id
from emulators.graph.attachments import EVENT, SINGLE_REQUEST_LIMIT, record_change, writable_event
from emulators.graph.dispatch import Call, Dispatcher, Reply, Router
from emulators.graph.errors import GraphError, bad_request, body_read_error, error_body
from emulators.graph.events import now
from emulators.graph.model import StoredAttachment, UploadSession
from emulators.graph.state import EmulatorState
from emulators.graph.timezones import format_utc_stamp

UPLOAD_SESSION_LIMIT = 150 * 1024 * 1024
MAX_RANGE = 4 * 1024 * 1024
SESSION = (
    r"/api/v2\.0/Users\('(?P<user>[^']+)'\)/Events\('(?P<event>[^']+)'\)/AttachmentSessions\('(?P<session>[^']+)'\)"
)
_SESSION_ID = re.compile(r"/AttachmentSessions\('([^']+)'\)", re.IGNORECASE)
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_ITEM_PROPERTIES = frozenset({"attachmentType", "contentId", "contentType", "isInline", "name", "size"})
_ATTACHMENT_TYPES = ("file", "item", "reference")


def session_app(state: EmulatorState, path: str) -> str:
    """The app an upload URL's session was created by (its throttling budget), or ``anonymous``."""
    m = _SESSION_ID.search(path)
    found = state.upload_sessions.get(m.group(1)) if m else None
    return found.app_id if found else "anonymous"


def _item(body: Any) -> dict[str, Any]:
    """``AttachmentItem`` of a createUploadSession body, checked (page "attachmentItem resource type")."""
    if not isinstance(body, dict):
        raise body_read_error("A request body with an AttachmentItem is required.")
    params = {str(k).lower(): v for k, v in body.items()}
    for key in body:
        if str(key).lower() != "attachmentitem":
            raise body_read_error(
                f"The parameter '{key}' in the request payload is not a valid parameter for the operation "
                "'createUploadSession'."
            )
    item = params.get("attachmentitem")
    if not isinstance(item, dict):
        raise bad_request("The parameter 'AttachmentItem' is required.")
    for key in item:
        if key not in _ITEM_PROPERTIES and not str(key).startswith("@"):
            raise body_read_error(
                f"The property '{key}' does not exist on type 'microsoft.graph.attachmentItem'. Make sure to only "
                "use property names that are defined by the type or mark the type as open type."
            )
    kind = item.get("attachmentType")
    if kind not in _ATTACHMENT_TYPES:
        raise body_read_error(
            f"Cannot convert the literal '{kind}' to the expected type 'microsoft.graph.attachmentType'."
        )
    if kind != "file":
        raise bad_request("An upload session attaches a file: attachmentType must be 'file'.")
    if not isinstance(item.get("name"), str) or not item["name"].strip():
        raise bad_request("The AttachmentItem's 'name' is required.")
    size = item.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise body_read_error(f"Cannot convert the literal '{size}' to the expected type 'Edm.Int64'.")
    if item.get("isInline") is not None and not isinstance(item["isInline"], bool):
        raise body_read_error(f"Cannot convert the literal '{item['isInline']}' to the expected type 'Edm.Boolean'.")
    return item


class Uploads:
    """createUploadSession and the upload URL's PUT / DELETE."""

    def __init__(self, state: EmulatorState, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher

    def register(self, r: Router) -> None:
        path = EVENT + r"/attachments/(?:microsoft\.graph\.)?createUploadSession"
        r.add("POST", path, self.create_session)
        r.add("PUT", SESSION, self.put_range)
        r.add("DELETE", SESSION, self.cancel)

    async def create_session(self, call: Call, p: dict[str, str]) -> Reply:
        user = self.state.mailbox_user(p["user"])
        ev = writable_event(self.state, user, p["event"])
        item = _item(call.body)
        size = int(item["size"])
        if size < SINGLE_REQUEST_LIMIT:
            raise bad_request(
                "The attachment is smaller than 3 MB; add it with one POST on the attachments.",
                code="ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            )
        if size > UPLOAD_SESSION_LIMIT:
            raise GraphError(413, "ErrorAttachmentSizeLimitExceeded", "The attachment is larger than 150 MB.")
        session = UploadSession(
            id=ids.new_token()[:32],
            token=ids.new_token(),
            app_id=call.app_id,
            mailbox_id=user.id,
            event_id=ev.id,
            name=str(item["name"]),
            content_type=str(item.get("contentType") or "application/octet-stream"),
            size=size,
            is_inline=bool(item.get("isInline") or False),
            content_id=item.get("contentId"),
            expiration=self.state.now() + timedelta(minutes=self.state.config.upload_session_minutes),
        )
        self.state.upload_sessions[session.id] = session
        root = call.base_url.removesuffix("/v1.0")
        url = (
            f"{root}/api/v2.0/Users('{user.id}')/Events('{ev.id}')/AttachmentSessions('{session.id}')"
            f"?authtoken={session.token}"
        )
        body = {
            "@odata.context": f"{call.base_url}/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": url,
            "expirationDateTime": format_utc_stamp(session.expiration),
            "nextExpectedRanges": ["0-"],
        }
        return Reply(status=201, body=body)

    def _session(self, call: Call, p: dict[str, str]) -> UploadSession:
        """The session a pre-authenticated request names: no Authorization header, the right authtoken, alive."""
        if not call.pre_authenticated:
            raise GraphError(400, "BadRequest", "Resource not found for the segment 'api'.")
        if call.headers.get("authorization"):
            # "Do not specify an Authorization request header" (page "Attach large files", step 2).
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "The upload URL is pre-authenticated; a request to it must not carry an Authorization header.",
            )
        session = self.state.upload_sessions.get(p["session"])
        if session is None or session.mailbox_id != p["user"] or session.event_id != p["event"]:
            raise GraphError(404, "ErrorItemNotFound", "The upload session was not found.")
        if call.query.get("authtoken") != session.token:
            raise GraphError(401, "InvalidAuthenticationToken", "The authtoken of the upload URL is not valid.")
        if session.expiration <= self.state.now():
            del self.state.upload_sessions[session.id]
            raise GraphError(404, "ErrorItemNotFound", "The upload session has expired.")
        return session

    async def put_range(self, call: Call, p: dict[str, str]) -> Reply:
        session = self._session(call, p)
        content = call.body if isinstance(call.body, bytes | bytearray) else b""
        m = _RANGE.match(call.headers.get("content-range", "").strip())
        if m is None:
            raise bad_request("The Content-Range header must read 'bytes {start}-{end}/{total}'.")
        start, end, total = (int(g) for g in m.groups())
        if total != session.size:
            raise bad_request(f"The total size {total} differs from the session's size {session.size}.")
        if end < start or end >= total:
            raise bad_request(f"The range {start}-{end} is not inside the file of {total} bytes.")
        length = end - start + 1
        if call.headers.get("content-length") != str(length) or len(content) != length:
            raise bad_request(f"Content-Length must be the range's length, {length} bytes, and the body that long.")
        if length > MAX_RANGE:
            raise GraphError(413, "RequestEntityTooLarge", "One PUT of an upload session takes up to 4 MB.")
        expected = len(session.received)
        if start != expected:
            body = error_body("InvalidRange", f"The upload session expects the range starting at byte {expected}.")
            body["error"]["nextExpectedRanges"] = [str(expected)]
            raise GraphError(416, "InvalidRange", "Range not expected.", body=body)
        self.dispatcher.charge_upload(session.app_id, session.mailbox_id, length)
        session.received.extend(content)
        if len(session.received) < session.size:
            answer = {
                "@odata.context": f"{call.base_url.removesuffix('/v1.0')}/api/v2.0/$metadata#Users('{p['user']}')"
                f"/Events('{p['event']}')/AttachmentSessions/$entity",
                "ExpirationDateTime": format_utc_stamp(session.expiration),
                "nextExpectedRanges": [str(len(session.received))],
            }
            return Reply(status=200, body=answer)
        return self._finish(call, session)

    def _finish(self, call: Call, session: UploadSession) -> Reply:
        """The last byte arrived: the file is attached, the session ends, ``Location`` names the attachment."""
        del self.state.upload_sessions[session.id]
        user = self.state.users[session.mailbox_id]
        ev = writable_event(self.state, user, session.event_id)
        att = StoredAttachment(
            id=new_attachment_id(ev.id),
            name=session.name,
            content_type=session.content_type,
            content=bytes(session.received),
            is_inline=session.is_inline,
            content_id=session.content_id,
            last_modified=now(),
        )
        ev.attachments.append(att)
        record_change(self.state, user, ev)
        root = call.base_url.removesuffix("/v1.0")
        location = f"{root}/api/v2.0/Users('{user.id}')/Events('{ev.id}')/Attachments('{att.id}')"
        return Reply(status=201, headers={"Location": location})

    async def cancel(self, call: Call, p: dict[str, str]) -> Reply:
        """``DELETE {uploadUrl}``: the session and its bytes are dropped (page "Attach large files", Alternative)."""
        session = self._session(call, p)
        del self.state.upload_sessions[session.id]
        return Reply(status=204)
