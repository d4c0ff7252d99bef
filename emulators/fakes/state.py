"""``InMemoryStateStore``: the whole ``StateStore`` port in dicts, with ``TableStateStore``'s semantics.

What it keeps from the Table store (``tests/state`` runs the same contract tests against both):

- every write gives the record a new ETag; a record saved with ``etag`` None is inserted
  (``StateConflict`` if it exists), one with an ETag replaces the stored record only if that ETag is
  still current (``StateConflict`` otherwise, also when the record is gone); deletes of records that
  are gone are no-ops, deletes with a stale ETag are ``StateConflict``;
- a user's event id and activity id each lead to one link; another link claiming them is a conflict;
- meeting claims are insert-if-absent, an activity belongs to one meeting (R10);
- leases, the issue log with occurrences (R31), the replay guard and the run log (last runs) behave alike;
- datetimes are read back in UTC and naive ones are refused.

What it does not model: Table Storage's size and key limits (``StateLimitExceeded``), and the
interleaving of requests: each method runs without awaiting, so it is atomic under asyncio.
Stores made with ``sharing()`` see the same data, like two workers on one storage account.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from shared.core.links import Link, LinkState
from shared.core.meetings import Meeting
from shared.errors import StateConflict
from shared.state.keys import encode_part
from shared.state.model import DeltaCursor, ErpCursor, Issue, JobRecord, Lease, RunRecord, SubscriptionRecord

if TYPE_CHECKING:
    from shared.state.port import StateStore

Record = TypeVar("Record", bound=BaseModel)


@dataclass
class StateData:
    """Everything the stores sharing it see; keys mirror the Table store's rows."""

    links: dict[tuple[str, str], Link] = field(default_factory=dict)
    # The Table store's index rows: (user id, event id) and (user id, activity id) -> link id; and each user's
    # link ids, so a look-up costs what a point read does, whatever the mailbox holds (a 20,000-event bench).
    by_event: dict[tuple[str, str], str] = field(default_factory=dict)
    by_activity: dict[tuple[str, str], str] = field(default_factory=dict)
    user_links: dict[str, set[str]] = field(default_factory=dict)
    meetings: dict[str, Meeting] = field(default_factory=dict)
    activity_index: dict[str, str] = field(default_factory=dict)  # activity id -> iCalUId
    delta_cursors: dict[str, DeltaCursor] = field(default_factory=dict)
    erp_cursors: dict[tuple[str, str], ErpCursor] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionRecord] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    pending: dict[str, datetime] = field(default_factory=dict)  # user id -> when its queued sync was marked
    run_notes: dict[str, list[str]] = field(default_factory=dict)  # user id -> changes noted during its run
    events_made: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # user -> note id -> made
    issues: dict[tuple[str, str], Issue] = field(default_factory=dict)
    replays: set[tuple[str, str]] = field(default_factory=set)
    runs: dict[str, RunRecord] = field(default_factory=dict)  # the status page's read model
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    _etags: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def stamp(self, record: Record) -> Record:
        """The record as stored: datetimes in UTC, a fresh ETag."""
        update: dict[str, object] = {"etag": f'W/"{next(self._etags)}"'}
        for name, value in record:
            if isinstance(value, datetime):
                if value.tzinfo is None or value.utcoffset() is None:
                    raise ValueError(f"{name} is a naive datetime; the state store keeps aware UTC instants only")
                update[name] = value.astimezone(UTC)
        return record.model_copy(update=update)


def _check_etag(stored: BaseModel | None, etag: str | None, *, what: str) -> None:
    """The Table store's save rule: None inserts, an ETag must match the stored record."""
    stored_etag = getattr(stored, "etag", None)
    if etag is None and stored is not None:
        raise StateConflict(f"{what} already exists; read it and save with its ETag")
    if etag is not None and etag != stored_etag:
        raise StateConflict(f"{what} changed or was deleted since it was read")


class InMemoryStateStore:
    """``StateStore`` in memory; ``sharing()`` gives a second store on the same data."""

    def __init__(self, data: StateData | None = None) -> None:
        self.data = data if data is not None else StateData()

    def sharing(self) -> InMemoryStateStore:
        """Another store on the same data, as a second worker on the same tables."""
        return InMemoryStateStore(self.data)

    # --- links -------------------------------------------------------------------------------------

    def _user_links(self, user_id: str) -> list[Link]:
        found = [self.data.links[(user_id, link_id)] for link_id in self.data.user_links.get(user_id, ())]
        return sorted(found, key=lambda link: encode_part(link.link_id))

    def _indexed(self, index: dict[tuple[str, str], str], user_id: str, value: str | None) -> Link | None:
        link_id = index.get((user_id, value)) if value else None
        return None if link_id is None else self.data.links.get((user_id, link_id))

    def _put_link(self, link: Link) -> Link:
        self._drop_link(link.user_id, link.link_id)
        stored = self.data.links[(link.user_id, link.link_id)] = self.data.stamp(link)
        self.data.user_links.setdefault(link.user_id, set()).add(link.link_id)
        if link.event_id:
            self.data.by_event[(link.user_id, link.event_id)] = link.link_id
        if link.activity_id:
            self.data.by_activity[(link.user_id, link.activity_id)] = link.link_id
        return stored

    def _drop_link(self, user_id: str, link_id: str) -> None:
        stored = self.data.links.pop((user_id, link_id), None)
        if stored is None:
            return
        self.data.user_links.get(user_id, set()).discard(link_id)
        for index, value in ((self.data.by_event, stored.event_id), (self.data.by_activity, stored.activity_id)):
            if value and index.get((user_id, value)) == link_id:
                del index[(user_id, value)]

    async def links_for_user(self, user_id: str, *, active_only: bool = False) -> Sequence[Link]:
        links = self._user_links(user_id)
        return [link for link in links if link.state is LinkState.ACTIVE] if active_only else links

    async def link_by_event(self, user_id: str, event_id: str) -> Link | None:
        return self._indexed(self.data.by_event, user_id, event_id)

    async def link_by_activity(self, user_id: str, activity_id: str) -> Link | None:
        return self._indexed(self.data.by_activity, user_id, activity_id)

    async def save_link(self, link: Link) -> Link:
        key = (link.user_id, link.link_id)
        _check_etag(self.data.links.get(key), link.etag, what=f"link {link.link_id!r}")
        other = self._indexed(self.data.by_event, link.user_id, link.event_id)
        if other is not None and other.link_id != link.link_id:
            raise StateConflict(f"link {link.link_id!r}: event {link.event_id!r} is linked already")
        other = self._indexed(self.data.by_activity, link.user_id, link.activity_id)
        if other is not None and other.link_id != link.link_id:
            raise StateConflict(f"link {link.link_id!r}: activity {link.activity_id!r} is linked already")
        return self._put_link(link)

    async def insert_links(self, links: Sequence[Link]) -> Sequence[Link | None]:
        stored: list[Link | None] = []
        for link in links:
            if link.etag is not None:
                raise ValueError(f"link {link.link_id!r} has an ETag: insert_links takes new links only")
            try:
                stored.append(await self.save_link(link))
            except StateConflict:
                stored.append(None)
        return stored

    async def delete_link(self, link: Link) -> None:
        key = (link.user_id, link.link_id)
        stored = self.data.links.get(key)
        if stored is None:
            return
        if link.etag is not None and link.etag != stored.etag:
            raise StateConflict(f"link {link.link_id!r} changed since it was read")
        self._drop_link(*key)

    async def note_events_made(self, user_id: str, made: Mapping[str, str]) -> str:
        note_id = uuid.uuid4().hex
        self.data.events_made.setdefault(user_id, {})[note_id] = dict(made)
        return note_id

    async def events_made(self, user_id: str) -> Mapping[str, Mapping[str, str]]:
        return {note: dict(made) for note, made in self.data.events_made.get(user_id, {}).items()}

    async def forget_events_made(self, user_id: str, note_ids: Sequence[str]) -> None:
        for note_id in note_ids:
            self.data.events_made.get(user_id, {}).pop(note_id, None)

    # --- meetings (R10) ----------------------------------------------------------------------------

    async def get_meeting(self, ical_uid: str) -> Meeting | None:
        return self.data.meetings.get(ical_uid)

    async def meeting_by_activity(self, activity_id: str) -> Meeting | None:
        meeting = self.data.meetings.get(self.data.activity_index.get(activity_id, ""))
        return meeting if meeting is not None and meeting.activity_id == activity_id else None

    async def claim_meeting(self, meeting: Meeting) -> Meeting | None:
        if meeting.activity_id is not None:
            self._point(meeting.activity_id, meeting.ical_uid)
        if meeting.ical_uid in self.data.meetings:
            return None
        stored = self.data.meetings[meeting.ical_uid] = self.data.stamp(meeting)
        return stored

    async def save_meeting(self, meeting: Meeting, *, read: Meeting | None = None) -> Meeting:
        # ``read`` saves the Table store a read; here the stored claim is at hand anyway.
        if meeting.etag is None:
            claimed = await self.claim_meeting(meeting)
            if claimed is None:
                raise StateConflict(f"meeting {meeting.ical_uid!r} is claimed already; read it and save with its ETag")
            return claimed
        previous = self.data.meetings.get(meeting.ical_uid)
        if previous is None or previous.etag != meeting.etag:
            raise StateConflict(f"meeting {meeting.ical_uid!r} changed or was deleted since it was read")
        if meeting.activity_id is not None:
            self._point(meeting.activity_id, meeting.ical_uid)
        stored = self.data.meetings[meeting.ical_uid] = self.data.stamp(meeting)
        if previous.activity_id is not None and previous.activity_id != meeting.activity_id:
            self._unpoint(previous.activity_id, meeting.ical_uid)
        return stored

    async def delete_meeting(self, meeting: Meeting) -> None:
        stored = self.data.meetings.get(meeting.ical_uid)
        if stored is None:
            return
        if meeting.etag is not None and meeting.etag != stored.etag:
            raise StateConflict(f"meeting {meeting.ical_uid!r} changed since it was read")
        del self.data.meetings[meeting.ical_uid]
        if stored.activity_id is not None:
            self._unpoint(stored.activity_id, meeting.ical_uid)

    def _point(self, activity_id: str, ical_uid: str) -> None:
        holder = self.data.meetings.get(self.data.activity_index.get(activity_id, ""))
        if holder is not None and holder.ical_uid != ical_uid and holder.activity_id == activity_id:
            raise StateConflict(f"activity {activity_id!r} belongs to meeting {holder.ical_uid!r} already")
        self.data.activity_index[activity_id] = ical_uid

    def _unpoint(self, activity_id: str, ical_uid: str) -> None:
        if self.data.activity_index.get(activity_id) == ical_uid:
            del self.data.activity_index[activity_id]

    # --- cursors -----------------------------------------------------------------------------------

    async def get_delta_cursor(self, mailbox: str) -> DeltaCursor | None:
        return self.data.delta_cursors.get(mailbox)

    async def save_delta_cursor(self, cursor: DeltaCursor) -> DeltaCursor:
        _check_etag(self.data.delta_cursors.get(cursor.mailbox), cursor.etag, what="delta cursor")
        stored = self.data.delta_cursors[cursor.mailbox] = self.data.stamp(cursor)
        return stored

    async def clear_delta_cursor(self, mailbox: str) -> None:
        self.data.delta_cursors.pop(mailbox, None)

    async def get_erp_cursor(self, user_id: str, feed: str) -> ErpCursor | None:
        return self.data.erp_cursors.get((user_id, feed))

    async def save_erp_cursor(self, cursor: ErpCursor) -> ErpCursor:
        key = (cursor.user_id, cursor.feed)
        _check_etag(self.data.erp_cursors.get(key), cursor.etag, what="ERP cursor")
        stored = self.data.erp_cursors[key] = self.data.stamp(cursor)
        return stored

    # --- subscriptions -----------------------------------------------------------------------------

    async def save_subscription(self, record: SubscriptionRecord) -> SubscriptionRecord:
        key = record.subscription_id
        _check_etag(self.data.subscriptions.get(key), record.etag, what="subscription")
        stored = self.data.subscriptions[key] = self.data.stamp(record)
        return stored

    async def get_subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        return self.data.subscriptions.get(subscription_id)

    async def subscriptions(self) -> Sequence[SubscriptionRecord]:
        return [self.data.subscriptions[key] for key in sorted(self.data.subscriptions, key=encode_part)]

    async def delete_subscription(self, subscription_id: str) -> None:
        self.data.subscriptions.pop(subscription_id, None)

    # --- leases ------------------------------------------------------------------------------------

    async def acquire_lease(self, user_id: str, *, owner: str, now: datetime, ttl_seconds: float) -> Lease | None:
        """The lease when free or expired (``expires_at <= now``), else None, even for the same owner."""
        stored = self.data.leases.get(user_id)
        if stored is not None and stored.expires_at > now:
            return None
        lease = Lease(user_id=user_id, owner=owner, expires_at=now + timedelta(seconds=ttl_seconds))
        granted = self.data.leases[user_id] = self.data.stamp(lease)
        return granted

    async def renew_lease(self, lease: Lease, *, now: datetime, ttl_seconds: float) -> Lease | None:
        """Extend the lease if its ETag is still the stored one; None when it was released or taken over."""
        stored = self.data.leases.get(lease.user_id)
        if stored is None or lease.etag is None or stored.etag != lease.etag:
            return None
        renewed = stored.model_copy(update={"expires_at": now + timedelta(seconds=ttl_seconds)})
        granted = self.data.leases[lease.user_id] = self.data.stamp(renewed)
        return granted

    async def get_lease(self, user_id: str) -> Lease | None:
        return self.data.leases.get(user_id)

    async def note_during_run(self, user_id: str, notes: Sequence[str], *, now: datetime) -> bool:
        stored = self.data.leases.get(user_id)
        if not notes or stored is None or stored.expires_at <= now:
            return False
        noted = self.data.run_notes.setdefault(user_id, [])
        noted.extend(note for note in dict.fromkeys(notes) if note not in noted)
        return True

    async def take_run_notes(self, user_id: str) -> Sequence[str]:
        return self.data.run_notes.pop(user_id, [])

    async def release_lease(self, lease: Lease) -> None:
        """Give the lease up; a lease taken over by another worker since is left alone."""
        stored = self.data.leases.get(lease.user_id)
        if stored is None:
            return
        if lease.etag is None and stored.owner != lease.owner:
            return
        if lease.etag is None or lease.etag == stored.etag:
            del self.data.leases[lease.user_id]

    async def mark_sync_pending(self, user_id: str, *, now: datetime, stale_after: timedelta) -> bool:
        """True when the caller must queue the user's sync: none pending, or only a stale mark."""
        since = self.data.pending.get(user_id)
        if since is not None and since > now - stale_after:
            return False
        self.data.pending[user_id] = now
        return True

    async def clear_sync_pending(self, user_id: str) -> None:
        self.data.pending.pop(user_id, None)

    # --- issues (R31) ------------------------------------------------------------------------------

    async def record_issue(self, issue: Issue) -> Issue:
        """Insert, or count a repeat of the open issue with the same key; a resolved one reopens."""
        key = (issue.user_id, issue.key)
        stored = self.data.issues.get(key)
        update: dict[str, object] = {"resolved_at": None}
        if stored is not None and stored.resolved_at is None:
            update |= {"first_seen": stored.first_seen, "occurrences": stored.occurrences + 1}
        recorded = self.data.issues[key] = self.data.stamp(issue.model_copy(update=update))
        return recorded

    async def resolve_issue(self, user_id: str, key: str, *, now: datetime) -> None:
        stored = self.data.issues.get((user_id, key))
        if stored is not None and stored.resolved_at is None:
            self.data.issues[(user_id, key)] = self.data.stamp(stored.model_copy(update={"resolved_at": now}))

    async def open_issues(self, user_id: str | None = None) -> Sequence[Issue]:
        found = [
            issue
            for (user, _), issue in self.data.issues.items()
            if issue.resolved_at is None and (user_id is None or user == user_id)
        ]
        return sorted(found, key=lambda issue: (encode_part(issue.user_id), encode_part(issue.key)))

    # --- the status page's read model (last writer wins) ----------------------------------------------

    async def record_run(self, record: RunRecord) -> RunRecord:
        stored = self.data.runs[record.user_id] = self.data.stamp(record)
        return stored

    async def last_runs(self) -> Sequence[RunRecord]:
        return [self.data.runs[key] for key in sorted(self.data.runs, key=encode_part)]

    async def record_job_run(self, record: JobRecord) -> JobRecord:
        stored = self.data.jobs[record.name] = self.data.stamp(record)
        return stored

    async def job_runs(self) -> Sequence[JobRecord]:
        return [self.data.jobs[key] for key in sorted(self.data.jobs, key=encode_part)]

    # --- the daily clean-up (shared.state.housekeeping) ------------------------------------------------

    async def stale_links(self, *, before: datetime, limit: int) -> Sequence[Link]:
        found = [
            link
            for link in self.data.links.values()
            if link.state is not LinkState.ACTIVE and link.updated_at is not None and link.updated_at < before
        ]
        return sorted(found, key=lambda link: (encode_part(link.user_id), encode_part(link.link_id)))[:limit]

    async def delete_links(self, links: Sequence[Link]) -> int:
        deleted = 0
        for link in links:
            stored = self.data.links.get((link.user_id, link.link_id))
            if stored is not None and stored.etag == link.etag:
                self._drop_link(link.user_id, link.link_id)
                deleted += 1
        return deleted

    async def prune_resolved_issues(self, *, before: datetime, limit: int) -> int:
        old = [
            key
            for key, issue in self.data.issues.items()
            if issue.resolved_at is not None and issue.resolved_at < before
        ][:limit]
        for key in old:
            del self.data.issues[key]
        return len(old)

    async def prune_replays(self, *, before: datetime, limit: int) -> int:
        cut = before.astimezone(UTC).strftime("%Y%m%d%H")
        old = sorted(key for key in self.data.replays if key[0] < cut)[:limit]
        self.data.replays.difference_update(old)
        return len(old)

    # --- replay guard ------------------------------------------------------------------------------

    async def first_use(self, token: str, *, at: datetime) -> bool:
        key = (at.astimezone(UTC).strftime("%Y%m%d%H"), hashlib.sha256(token.encode()).hexdigest())
        if key in self.data.replays:
            return False
        self.data.replays.add(key)
        return True


if TYPE_CHECKING:

    def _implements_the_port(store: InMemoryStateStore) -> StateStore:
        """mypy proves here that ``InMemoryStateStore`` satisfies the ``StateStore`` protocol."""
        return store
