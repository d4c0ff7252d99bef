"""Attachments (R18): the core's words for files on an Outlook event and on an ERP activity.

An Outlook event's file (a Graph ``fileAttachment``) is known by its id, name, type and size; Graph gives no
content hash, so its bytes are read once to learn one. An ERP activity's file carries its SHA-256, which the
ERP computes. A link remembers which event file and which activity file hold the same bytes (``AttachmentPair``),
so an unchanged file is never sent again and the echo of a copy is never a change.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Graph: one POST /attachments takes a file below 3 MB; 3 MB to 150 MB go through an upload session
# (page "Attach large files to Outlook messages or events", https://learn.microsoft.com/en-us/graph/outlook-large-attachments).
GRAPH_SINGLE_REQUEST_LIMIT = 3 * 1024 * 1024
GRAPH_UPLOAD_SESSION_LIMIT = 150 * 1024 * 1024


class FileMeta(BaseModel):
    """What travels with a file's bytes: its name, media type and size in bytes (camelCase on the ERP's wire)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")

    name: str = Field(min_length=1)
    content_type: str = "application/octet-stream"
    size: int = Field(ge=0)


class EventAttachment(FileMeta):
    """A file on an Outlook event, as Graph lists it (no bytes, no hash). Inline files (pictures in the body)
    are listed too; the sync leaves them alone."""

    id: str
    is_inline: bool = False


class ActivityAttachment(FileMeta):
    """A file on an ERP activity, with the SHA-256 of its bytes (lower-case hex) the ERP computed."""

    id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AttachmentPair(BaseModel):
    """One file synced both ways: the event's copy and the activity's copy of the same bytes.

    A copy under way is written down first with the side it goes to left empty (``pending``), so a run that dies
    before it learns the copy's id, and a person who removes the original meanwhile, still leave one file or none,
    never a copy that comes back as a new file.
    """

    model_config = ConfigDict(frozen=True)

    event_attachment_id: str | None
    activity_attachment_id: str | None
    sha256: str
    name: str
    size: int

    @property
    def pending(self) -> bool:
        return self.event_attachment_id is None or self.activity_attachment_id is None
