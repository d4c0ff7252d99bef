"""A link: the stored pairing of one ERP record with one M365 event, and what was last synced.

The per-side fingerprints (``m365_fields``, ``erp_fields``) are content hashes of each ``Field`` as
that side showed it right after the last sync. Comparing a side's current hashes with its own
fingerprints says which fields changed there since (vdirsyncer's status, per field), which is what
echo suppression (R5) and the field-level merge (R6) need, even when a side normalises values.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.core.attachments import AttachmentPair
from shared.core.items import Field, ItemKind, Side
from shared.core.meetings import LinkRole
from shared.core.series import SeriesMemo

Fingerprint = dict[Field, str]


class LinkState(StrEnum):
    ACTIVE = "active"
    # The ERP record was voided/removed and the event deleted, or the event deleted and the record
    # voided: kept as a tombstone so a late echo of either side is recognised and not re-created.
    RETIRED = "retired"
    # The event was deleted in M365 but the type keeps its ERP record (R8 tasks and phone calls).
    DETACHED = "detached"


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    link_id: str
    kind: ItemKind
    origin: Side
    state: LinkState = LinkState.ACTIVE
    # R10: the owner's copy carries the meeting; another synced person's copy only their response.
    role: LinkRole = LinkRole.OWNER
    event_id: str | None = None
    ical_uid: str | None = None
    activity_id: str | None = None
    m365_fields: Fingerprint = {}
    erp_fields: Fingerprint = {}
    # R27: the mailbox person's response as last synced (both sides agreed); copies sync only this.
    response: str | None = None
    m365_change_key: str | None = None
    erp_version: int | None = None
    m365_modified_at: AwareDatetime | None = None
    erp_modified_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    # R28: an occurrence's link (an ERP without series: one activity per occurrence) names its series and the
    # occurrence's original start, so a moved series is matched by position, never voided and made again.
    series_master_id: str | None = None
    original_start: AwareDatetime | None = None
    # R28: a series' link (master ↔ series activity) remembers what its pattern and exceptions were (core.series).
    series: SeriesMemo | None = None
    # R18: the files synced both ways (event file ↔ activity file of the same bytes).
    attachments: tuple[AttachmentPair, ...] = ()
    # R10: False for an owner's meeting no other mailbox can hold yet (its own, nobody invited: ``meetings.
    # shared``); its tenant-wide claim is made once it has attendees (``plan_claims``). Stored links that
    # predate this flag were all claimed.
    claimed: bool = True
    # Storage ETag of the entity this link was read from; None for a link not stored yet.
    etag: str | None = None

    def evolve(self, changes: LinkChanges) -> Link:
        """A copy with ``changes`` (typed: a wrong field name or value type is a type error)."""
        return self.model_copy(update=dict(changes))


class LinkChanges(TypedDict, total=False):
    """What a record after an action may change on a link (``core.records``)."""

    state: LinkState
    role: LinkRole
    event_id: str | None
    m365_fields: Fingerprint
    erp_fields: Fingerprint
    m365_change_key: str | None
    erp_version: int | None
    m365_modified_at: datetime | None
    erp_modified_at: datetime | None
    response: str | None
    updated_at: datetime
    ical_uid: str | None
    series_master_id: str | None
    original_start: datetime | None
    series: SeriesMemo | None
    attachments: tuple[AttachmentPair, ...]
    claimed: bool
