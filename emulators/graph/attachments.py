"""File attachments on events (R18): list, get, raw bytes, add in one POST, delete.

Pages: "List attachments" (https://learn.microsoft.com/en-us/graph/api/event-list-attachments), "Get attachment"
(https://learn.microsoft.com/en-us/graph/api/attachment-get), "Add attachment"
(https://learn.microsoft.com/en-us/graph/api/event-post-attachments), "Delete attachment"
(https://learn.microsoft.com/en-us/graph/api/attachment-delete) and "Attach large files to Outlook messages or
events" (https://learn.microsoft.com/en-us/graph/outlook-large-attachments). Files of 3 MB and more go through
an upload session (``emulators.graph.uploads``).

A change of an event's files is a change of the event: new changeKey and lastModifiedDateTime, ``hasAttachments``
in its JSON, change notifications and delta, and an organizer's files reach the attendees' copies. A series
master's files belong to the series; the emulator does not model files of one occurrence (a write on an
occurrence id is a 400).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import quote

from emulators.graph import ids
from emulators.graph.attachment_files import FILE_PROPERTIES, FILE_TYPE, find, new_attachment_id, render
from emulators.graph.dispatch import Call, Dispatcher, Reply, Router
from emulators.graph.errors import GraphError, bad_request, body_read_error, not_found
from emulators.graph.events import Instance, now
from emulators.graph.model import StoredAttachment, StoredEvent, User
from emulators.graph.state import EmulatorState

EVENT = r"/users/(?P<user>[^/]+)(?:/calendar)?/events/(?P<event>[^/]+)"
ATTACHMENTS = EVENT + r"/attachments"
ATTACHMENT = ATTACHMENTS + r"/(?P<attachment>[^/]+)"
# Page "Add attachment": "This operation limits the size of the attachment you can add to under 3 MB."
SINGLE_REQUEST_LIMIT = 3 * 1024 * 1024
_OTHER_TYPES = ("#microsoft.graph.itemAttachment", "#microsoft.graph.referenceAttachment")


def record_change(state: EmulatorState, user: User, ev: StoredEvent) -> None:
    """An event's files changed: new changeKey (the series' occurrences too), notifications, attendees' copies."""
    state._touch(ev)
    ev.props["_seriesKey"] = ids.new_change_key()
    state._changed(user.id, ev.id, "updated")
    if ev.is_organizer and (ev.copies or ev.props.get("attendees")):
        state._sync_copies(ev)


def writable_event(state: EmulatorState, user: User, event_id: str) -> StoredEvent:
    """The stored event (single instance or series master) whose files a request changes."""
    inst = state.instance(user, event_id)
    if inst.kind in ("occurrence", "exception"):
        raise bad_request("The emulator keeps files on single events and series masters, not on one occurrence.")
    return inst.event


def decode_content(value: Any) -> bytes:
    """``contentBytes`` (Edm.Binary): base64, as in the examples, or OData's base64url; else 400 like OData."""
    if not isinstance(value, str):
        raise body_read_error(f"Cannot convert the literal '{value}' to the expected type 'Edm.Binary'.")
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise body_read_error(f"Cannot convert the literal '{shown}' to the expected type 'Edm.Binary'.") from None


def check_file_body(body: Any) -> dict[str, Any]:
    """A POST body for a file attachment, checked like Graph's OData reader and Exchange do."""
    if not isinstance(body, dict):
        raise body_read_error("A request body with an attachment is required.")
    kind = body.get("@odata.type")
    if not kind:
        raise bad_request(
            "An attachment needs '@odata.type' (#microsoft.graph.fileAttachment, itemAttachment or "
            "referenceAttachment): attachment is an abstract type."
        )
    kind = str(kind) if str(kind).startswith("#") else f"#{kind}"
    if kind in _OTHER_TYPES:
        raise bad_request(f"The emulator models file attachments only, not '{kind}'.")
    if kind != FILE_TYPE:
        raise body_read_error(f"A type named '{kind.lstrip('#')}' could not be resolved by the model.")
    for key in body:
        if key not in FILE_PROPERTIES and not str(key).startswith("@"):
            raise body_read_error(
                f"The property '{key}' does not exist on type 'microsoft.graph.fileAttachment'. Make sure to only "
                "use property names that are defined by the type or mark the type as open type."
            )
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("The attachment's 'name' is required.", code="ErrorInvalidRequest")
    if "contentBytes" not in body or body["contentBytes"] is None:
        raise bad_request("The file attachment's 'contentBytes' is required.", code="ErrorInvalidRequest")
    for flag in ("isInline",):
        if flag in body and body[flag] is not None and not isinstance(body[flag], bool):
            raise body_read_error(f"Cannot convert the literal '{body[flag]}' to the expected type 'Edm.Boolean'.")
    for text in ("contentType", "contentId"):
        if body.get(text) is not None and not isinstance(body[text], str):
            raise body_read_error(f"Cannot convert the literal '{body[text]}' to the expected type 'Edm.String'.")
    return body


class Attachments:
    """The handlers; ``register`` puts them on the Graph router."""

    def __init__(self, state: EmulatorState, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher

    def register(self, r: Router) -> None:
        r.add("GET", ATTACHMENTS, self.list_attachments)
        r.add("POST", ATTACHMENTS, self.add_attachment)
        r.add("GET", ATTACHMENT + r"/\$value", self.attachment_value)
        r.add("GET", ATTACHMENT, self.get_attachment)
        r.add("DELETE", ATTACHMENT, self.delete_attachment)

    def _context(self, call: Call, p: dict[str, str], tail: str) -> str:
        user, event = quote(p["user"], safe=""), quote(p["event"], safe="")
        return f"{call.base_url}/$metadata#users('{user}')/events('{event}')/attachments{tail}"

    def _instance(self, p: dict[str, str]) -> Instance:
        return self.state.instance(self.state.mailbox_user(p["user"]), p["event"])

    def _attachment(self, p: dict[str, str]) -> StoredAttachment:
        found = find(self._instance(p).event, p["attachment"])
        if found is None:
            raise not_found()
        return found

    async def list_attachments(self, call: Call, p: dict[str, str]) -> Reply:
        """``GET …/events/{id}/attachments`` with ``$select`` (page "List attachments")."""
        select = _select(call)
        values = [render(a, select=select) for a in self._instance(p).event.attachments]
        return Reply(status=200, body={"@odata.context": self._context(call, p, ""), "value": values})

    async def get_attachment(self, call: Call, p: dict[str, str]) -> Reply:
        """``GET …/attachments/{id}`` (page "Get attachment")."""
        data = render(self._attachment(p), select=_select(call))
        return Reply(status=200, body={"@odata.context": self._context(call, p, "/$entity"), **data})

    async def attachment_value(self, call: Call, p: dict[str, str]) -> Reply:
        """``GET …/attachments/{id}/$value``: the raw bytes with the file's media type (page "Get attachment",
        example "Get the raw contents of a file attachment")."""
        att = self._attachment(p)
        return Reply(status=200, body=bytes(att.content), headers={"Content-Type": att.content_type})

    async def add_attachment(self, call: Call, p: dict[str, str]) -> Reply:
        """``POST …/attachments`` with a ``#microsoft.graph.fileAttachment``: 201 and the attachment. A file of
        3 MB or more is refused with 413 (pages "Add attachment": "limits the size of the attachment you can add
        to under 3 MB", and "Attach large files": 3 MB to 150 MB take an upload session); real Graph answers a
        too large request with 413 Request Entity Too Large (page "Microsoft Graph error responses")."""
        user = self.state.mailbox_user(p["user"])
        ev = writable_event(self.state, user, p["event"])
        body = check_file_body(call.body)
        content = decode_content(body["contentBytes"])
        if len(content) >= SINGLE_REQUEST_LIMIT:
            raise GraphError(
                413,
                "RequestEntityTooLarge",
                f"The attachment is {len(content)} bytes; one POST takes less than 3 MB. Use createUploadSession.",
            )
        self.dispatcher.charge_upload(call.app_id, user.id, len(content))
        att = StoredAttachment(
            id=new_attachment_id(ev.id),
            name=str(body["name"]),
            content_type=str(body.get("contentType") or "application/octet-stream"),
            content=content,
            is_inline=bool(body.get("isInline") or False),
            content_id=body.get("contentId"),
            last_modified=now(),
        )
        ev.attachments.append(att)
        record_change(self.state, user, ev)
        return Reply(status=201, body={"@odata.context": self._context(call, p, "/$entity"), **render(att)})

    async def delete_attachment(self, call: Call, p: dict[str, str]) -> Reply:
        """``DELETE …/attachments/{id}``: 204; 404 ErrorItemNotFound when unknown (page "Delete attachment")."""
        user = self.state.mailbox_user(p["user"])
        ev = writable_event(self.state, user, p["event"])
        att = find(ev, p["attachment"])
        if att is None:
            raise not_found()
        ev.attachments.remove(att)
        record_change(self.state, user, ev)
        return Reply(status=204)


def _select(call: Call) -> set[str] | None:
    raw = call.query.get("$select")
    if not raw:
        return None
    fields = {s.strip() for s in raw.split(",") if s.strip()}
    known = {k.lower() for k in FILE_PROPERTIES}
    for f in fields:
        if not re.fullmatch(r"[A-Za-z@.]+", f) or f.lower() not in known:
            raise GraphError(
                400, "BadRequest", f"Could not find a property named '{f}' on type 'microsoft.graph.attachment'."
            )
    return fields
