"""The state store port. Implementations: ``shared.state.tables`` (Azure Table Storage).

Every write that replaces a read record is conditional on the record's ETag and raises
``StateConflict`` when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from shared.core.links import Link
from shared.core.meetings import Meeting
from shared.state.model import DeltaCursor, ErpCursor, Issue, JobRecord, Lease, RunRecord, SubscriptionRecord


class LinkStore(Protocol):
    async def links_for_user(self, user_id: str, *, active_only: bool = False) -> Sequence[Link]:
        """The user's links; ``active_only``: without the retired and detached ones (tombstones)."""
        ...

    async def link_by_event(self, user_id: str, event_id: str) -> Link | None: ...
    async def link_by_activity(self, user_id: str, activity_id: str) -> Link | None: ...
    async def save_link(self, link: Link) -> Link:
        """Insert (``etag`` None) or replace if unchanged; keeps the event and activity indexes in step."""
        ...

    async def insert_links(self, links: Sequence[Link]) -> Sequence[Link | None]:
        """Insert new links (``etag`` None) of a group of writes in as few requests as the store allows; for
        each, the stored link, or None when it was not stored (a row it needs exists, or a link sharing its
        request had one): the caller saves those with ``save_link``, one by one."""
        ...

    async def delete_link(self, link: Link) -> None: ...

    async def note_events_made(self, user_id: str, made: Mapping[str, str]) -> str:
        """R10/R8: note the events a group of creates made (activity id -> event id) before their links are
        saved (``shared/state/events_made.py``); the note's id."""
        ...

    async def events_made(self, user_id: str) -> Mapping[str, Mapping[str, str]]:
        """The user's notes of events made: note id -> (activity id -> event id)."""
        ...

    async def forget_events_made(self, user_id: str, note_ids: Sequence[str]) -> None:
        """Remove these notes; one already gone is no error."""
        ...


class MeetingStore(Protocol):
    """The tenant-wide claims on meetings (R10), one per iCalUId, indexed by activity too."""

    async def get_meeting(self, ical_uid: str) -> Meeting | None: ...

    async def meeting_by_activity(self, activity_id: str) -> Meeting | None: ...

    async def claim_meeting(self, meeting: Meeting) -> Meeting | None:
        """Insert-if-absent: the stored claim (with its ETag) when this call took it, None when one exists."""
        ...

    async def save_meeting(self, meeting: Meeting, *, read: Meeting | None = None) -> Meeting:
        """Replace the claim if its ETag is unchanged (``StateConflict`` otherwise); keeps the activity index.

        ``read``: the claim as read (or claimed) with that same ETag, when the caller has it: the store then
        knows the activity it replaces without reading the claim again."""
        ...

    async def delete_meeting(self, meeting: Meeting) -> None: ...


class CursorStore(Protocol):
    async def get_delta_cursor(self, mailbox: str) -> DeltaCursor | None: ...
    async def save_delta_cursor(self, cursor: DeltaCursor) -> DeltaCursor: ...
    async def clear_delta_cursor(self, mailbox: str) -> None: ...
    async def get_erp_cursor(self, user_id: str, feed: str) -> ErpCursor | None: ...
    async def save_erp_cursor(self, cursor: ErpCursor) -> ErpCursor: ...


class SubscriptionStore(Protocol):
    async def save_subscription(self, record: SubscriptionRecord) -> SubscriptionRecord: ...
    async def get_subscription(self, subscription_id: str) -> SubscriptionRecord | None: ...
    async def subscriptions(self) -> Sequence[SubscriptionRecord]: ...
    async def delete_subscription(self, subscription_id: str) -> None: ...


class LeaseStore(Protocol):
    async def acquire_lease(self, user_id: str, *, owner: str, now: datetime, ttl_seconds: float) -> Lease | None:
        """The lease when free or expired, else None (another worker holds it)."""
        ...

    async def renew_lease(self, lease: Lease, *, now: datetime, ttl_seconds: float) -> Lease | None:
        """Extend the holder's lease to ``now + ttl_seconds``; the renewed lease (new ETag), or None when it was
        lost: released, or taken over by another worker since ``lease`` was granted or last renewed.

        A lease that expired but that no other worker took over is still the holder's (its ETag is unchanged)
        and is renewed: nobody else can have started, and a racing takeover loses on the ETag.
        """
        ...

    async def get_lease(self, user_id: str) -> Lease | None:
        """The stored lease (possibly expired), None when the user is free: when a busy user's lease ends."""
        ...

    async def release_lease(self, lease: Lease) -> None: ...

    async def note_during_run(self, user_id: str, notes: Sequence[str], *, now: datetime) -> bool:
        """Note changes for the run that holds the user's lease (``shared/state/run_notes.py``): True when that
        run's worker will read them after its release; False when no run holds it: the caller queues a sync."""
        ...

    async def take_run_notes(self, user_id: str) -> Sequence[str]:
        """The changes noted for the user's runs, read and removed (after the run released its lease)."""
        ...

    async def mark_sync_pending(self, user_id: str, *, now: datetime, stale_after: timedelta) -> bool:
        """True when the caller must queue the user's sync: no message is pending for the user, or only one
        marked before ``now - stale_after`` (lost); False when a pending message covers this request."""
        ...

    async def clear_sync_pending(self, user_id: str) -> None:
        """The user's pending message is being handled: the next request queues a new one."""
        ...


class IssueLog(Protocol):
    async def record_issue(self, issue: Issue) -> Issue:
        """Insert, or update the open issue with the same key (``occurrences`` + 1, ``last_seen``)."""
        ...

    async def resolve_issue(self, user_id: str, key: str, *, now: datetime) -> None: ...
    async def open_issues(self, user_id: str | None = None) -> Sequence[Issue]: ...


class ReplayGuard(Protocol):
    async def first_use(self, token: str, *, at: datetime) -> bool:
        """True the first time ``token`` is presented, False for every repeat (a replayed signed call).

        ``at`` is when the token was minted (a signed call's own timestamp), so every repeat of one call
        is looked up in the same place however late it comes.
        """
        ...


class RunLog(Protocol):
    """The status page's read model: each user's last run and each job's last run, one small row each.

    Last writer wins (no ETag check): a user's or job's newest record replaces the one before.
    """

    async def record_run(self, record: RunRecord) -> RunRecord: ...
    async def last_runs(self) -> Sequence[RunRecord]:
        """Every user's last run (one row per user ever run), by user id."""
        ...

    async def record_job_run(self, record: JobRecord) -> JobRecord: ...
    async def job_runs(self) -> Sequence[JobRecord]:
        """Every job's last run, by name."""
        ...


class Housekeeping(Protocol):
    """What the daily clean-up deletes: records no run reads any more. Each call is bounded by ``limit`` and
    idempotent (what is gone already is no error; a record changed since it was read stays)."""

    async def stale_links(self, *, before: datetime, limit: int) -> Sequence[Link]:
        """Every user's links that are no longer active (retired, detached), last changed before ``before``."""
        ...

    async def delete_links(self, links: Sequence[Link]) -> int:
        """Delete the links with their index rows, each only if unchanged since read (ETag); how many went."""
        ...

    async def prune_resolved_issues(self, *, before: datetime, limit: int) -> int:
        """Delete issues resolved before ``before``; how many."""
        ...

    async def prune_replays(self, *, before: datetime, limit: int) -> int:
        """Delete replay-guard rows of tokens minted in UTC hours wholly before ``before``; how many."""
        ...


class StateStore(
    LinkStore,
    MeetingStore,
    CursorStore,
    SubscriptionStore,
    LeaseStore,
    IssueLog,
    ReplayGuard,
    RunLog,
    Housekeeping,
    Protocol,
):
    """Everything the sync keeps between runs."""
