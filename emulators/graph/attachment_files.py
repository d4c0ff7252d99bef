"""File attachments as records and as Graph's JSON (page "fileAttachment resource type",
https://learn.microsoft.com/en-us/graph/api/resources/fileattachment), and the attendees' copies of them.

Pure helpers, shared by the attachment handlers (``emulators.graph.attachments``) and the meeting copies
(``emulators.graph.copies``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC
from typing import Any

from emulators.graph import ids
from emulators.graph.model import StoredAttachment, StoredEvent

FILE_TYPE = "#microsoft.graph.fileAttachment"
# Properties of a fileAttachment (page "fileAttachment resource type"); anything else in a POST is a 400.
FILE_PROPERTIES = frozenset(
    {
        "@odata.type",
        "contentBytes",
        "contentId",
        "contentLocation",
        "contentType",
        "id",
        "isInline",
        "lastModifiedDateTime",
        "name",
        "size",
    }
)


def new_attachment_id(event_id: str) -> str:
    """Attachment ids extend their item's id, as Exchange's do (``AAMk…`` of the event, then more)."""
    return event_id + "BEgAQ" + ids.new_change_key()


def _copy_id(copy_event_id: str, source_id: str) -> str:
    """The id an attendee's copy gives an organizer's file: stable across refreshes, distinct per copy."""
    digest = hashlib.sha256(f"{copy_event_id}|{source_id}".encode()).digest()[:18]
    return copy_event_id + "BEgAQ" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def mirrored(organizer_event: StoredEvent, copy_event_id: str) -> list[StoredAttachment]:
    """The organizer's files as an attendee's copy holds them: same names, types and bytes, own ids
    (page "Outlook calendar meetings": attendees receive the organizer's meeting with its attachments)."""
    return [replace(a, id=_copy_id(copy_event_id, a.id)) for a in organizer_event.attachments]


def render(att: StoredAttachment, *, select: set[str] | None = None, content: bool = True) -> dict[str, Any]:
    """The JSON Graph answers for a file attachment; ``select`` keeps only those properties (``@odata.type``,
    ``@odata.mediaContentType`` and ``id`` always stay, as in the $select example of page "Attach large files
    to Outlook messages or events", https://learn.microsoft.com/en-us/graph/outlook-large-attachments)."""
    data: dict[str, Any] = {
        "@odata.type": FILE_TYPE,
        "@odata.mediaContentType": att.content_type,
        "id": att.id,
        "lastModifiedDateTime": att.last_modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if att.last_modified
        else None,
        "name": att.name,
        "contentType": att.content_type,
        "size": len(att.content),
        "isInline": att.is_inline,
        "contentId": att.content_id,
        "contentLocation": None,
    }
    if content:
        data["contentBytes"] = base64.b64encode(att.content).decode("ascii")
    if select:
        keep = {s.lower() for s in select} | {"@odata.type", "@odata.mediacontenttype", "id"}
        data = {k: v for k, v in data.items() if k.lower() in keep}
    return data


def find(event: StoredEvent, attachment_id: str) -> StoredAttachment | None:
    return next((a for a in event.attachments if a.id == attachment_id), None)
