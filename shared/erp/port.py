"""The ERP port: the few things the sync engine needs from any ERP.

Small on purpose so an adapter for a specific ERP can sit beside the generic HTTP one. Every method
raises only ``shared.errors.ErpError`` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from shared.core.activities import (
    Activity,
    ActivityChange,
    ActivityFields,
    ActivityPatch,
    ActivityType,
    ActivityTypeDefinition,
    ChangePage,
    Company,
    Contact,
    ErpCapabilities,
    ErpUser,
    Facility,
    LeaveRequest,
    LeaveRequestChange,
)
from shared.core.attachments import ActivityAttachment, FileMeta


class ErpPort(Protocol):
    async def list_users(self, *, enabled_only: bool = True) -> Sequence[ErpUser]:
        """ERP users; with ``enabled_only`` just those switched on for calendar sync (R2)."""
        ...

    async def capabilities(self) -> ErpCapabilities:
        """What this ERP can hold (R28: series); read once and kept by the adapter."""
        ...

    async def get_user(self, user_id: str) -> ErpUser:
        """One ERP user; ErpNotFound when unknown."""
        ...

    async def find_contacts(self, emails: Sequence[str]) -> Sequence[Contact]:
        """Contacts whose email is one of ``emails`` (case-insensitive), for R15."""
        ...

    async def find_companies(self, emails: Sequence[str]) -> Sequence[Company]:
        """Companies whose email is one of ``emails`` (case-insensitive), for R15/R23."""
        ...

    async def get_company(self, company_id: str) -> Company:
        """One company; ErpNotFound when unknown (R21 names it in a meeting's title)."""
        ...

    async def list_facilities(self) -> Sequence[Facility]:
        """All facilities with their room mailbox addresses (R16) and no-time rule (R13)."""
        ...

    async def ensure_activity_type(self, kind: ActivityType) -> ActivityTypeDefinition:
        """The ERP's activity type for ``kind``, created when missing and the ERP allows it (R23)."""
        ...

    async def get_activity(self, activity_id: str) -> Activity:
        """The activity as stored now; ErpNotFound when it does not exist."""
        ...

    async def create_activity(self, fields: ActivityFields, *, idempotency_key: str) -> Activity:
        """Create once: a retry with the same key returns the first result (R10)."""
        ...

    async def update_activity(self, activity_id: str, patch: ActivityPatch, *, version: int) -> Activity:
        """Apply ``patch`` if ``version`` is current; ErpConflict if stale, ErpReadOnly if read-only (R7)."""
        ...

    async def void_activity(self, activity_id: str, *, version: int) -> Activity:
        """Void (not delete) the activity (R8)."""
        ...

    async def close_activity(self, activity_id: str, *, version: int) -> Activity:
        """Close the activity (R29)."""
        ...

    async def activity_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None = None
    ) -> ChangePage[ActivityChange]:
        """Every change after ``cursor`` to the activities the user owns or is a registered user of
        (a participant, R10/R27), all pages followed; an activity the user was just removed from is
        reported once more. Each change names the activity's owner (``owner_id``).

        Without a cursor: a snapshot of those activities ending after ``ends_after`` (R4), and the
        cursor that continues from that snapshot.
        """
        ...

    # --- attachments (R18); only called when ``capabilities().attachments`` ---

    def read_activity_attachment(self, activity_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, in chunks; ErpNotFound when the file or activity is gone."""
        ...

    async def add_activity_attachment(
        self, activity_id: str, meta: FileMeta, content: AsyncIterable[bytes], *, sha256: str, idempotency_key: str
    ) -> tuple[ActivityAttachment, int]:
        """Attach ``meta.size`` bytes read from ``content`` whose SHA-256 is ``sha256``; the file as stored and
        the activity's version after it. A retry with the same key returns the first result (R10). ErpTooLarge
        past ``capabilities().max_attachment_bytes``; ErpInvalid when the bytes do not match the hash."""
        ...

    async def remove_activity_attachment(self, activity_id: str, attachment_id: str) -> int:
        """Remove the file; the activity's version after it. One already gone is not an error (version still
        returned)."""
        ...

    async def get_leave_request(self, leave_request_id: str) -> LeaveRequest:
        """One leave request as stored now; ErpNotFound when it does not exist (R30 puts its event back)."""
        ...

    async def leave_request_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None = None
    ) -> ChangePage[LeaveRequestChange]:
        """The same for the user's leave requests (R30)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
