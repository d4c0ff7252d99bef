"""Records the state store keeps besides links (``shared.core.links.Link``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict


class DeltaCursor(BaseModel):
    """Where a mailbox's calendar-view delta stands: the deltaLink and the window fixed in it."""

    model_config = ConfigDict(frozen=True)

    mailbox: str
    delta_link: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    updated_at: AwareDatetime
    etag: str | None = None


class ErpCursor(BaseModel):
    """Where a user's ERP change feed stands (``feed`` is "activities" or "leave-requests")."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    feed: str
    cursor: str
    updated_at: AwareDatetime
    etag: str | None = None


class SubscriptionRecord(BaseModel):
    """A Graph change-notification subscription this deployment owns."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    user_id: str
    mailbox: str
    resource: str
    expires_at: AwareDatetime
    created_at: AwareDatetime
    etag: str | None = None


class Lease(BaseModel):
    """Exclusive right of one worker to sync one user until ``expires_at``."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    owner: str
    expires_at: AwareDatetime
    etag: str | None = None


class IssueKind(StrEnum):
    CONFLICT = "conflict"  # R7: read-only ERP record changed in M365
    UNSYNCABLE_USER = "unsyncable_user"  # R2
    REFUSED_ITEM = "refused_item"  # R13 and any refused write
    MASS_DELETE = "mass_delete"  # R11
    BAD_INPUT = "bad_input"  # malformed notification, odd time zone, ...
    FAILURE = "failure"  # anything else a person should see
    # R10: a copy of a meeting waits for its owner's mailbox to sync it first; resolves itself.
    WAITING = "waiting"
    # R11: an admin released a halted mass deletion (status page): the user's next run lets its removals through
    # once, then resolves the row (key ``mass-delete``).
    RELEASED = "released"


class Issue(BaseModel):
    """Something an admin can act on (R31). ``key`` is stable per item so a repeat updates, not duplicates."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    key: str
    kind: IssueKind
    reason: str
    event_id: str | None = None
    activity_id: str | None = None
    # The side's version that could not be applied, as JSON (R7: nothing is lost).
    payload: str | None = None
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    occurrences: int = 1
    resolved_at: datetime | None = None
    etag: str | None = None


class RunRecord(BaseModel):
    """A user's last run, as the status page shows it (the read model the worker writes after each run).

    ``outcome`` is the run's status (ok, busy, unsyncable, halted, failed, lease-lost); ``detail`` is safe text
    (secrets masked, outside text escaped); ``next_due`` is when the next run is expected at the latest.
    """

    model_config = ConfigDict(frozen=True)

    user_id: str
    outcome: str
    started_at: AwareDatetime
    finished_at: AwareDatetime
    counts: dict[str, int] = {}
    issues: int = 0
    detail: str = ""
    next_due: AwareDatetime | None = None
    correlation_id: str | None = None
    etag: str | None = None

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class JobRecord(BaseModel):
    """The last run of a tenant-wide job (a timer: safety net, subscription upkeep, the daily jobs)."""

    model_config = ConfigDict(frozen=True)

    name: str
    outcome: str
    at: AwareDatetime
    counts: dict[str, int] = {}
    detail: str = ""
    etag: str | None = None
