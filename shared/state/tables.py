"""``StateStore`` on Azure Table Storage (async ``azure-data-tables``).

Tables (names are ``<prefix>Links`` etc.; keys are encoded by ``shared.state.keys``):

- links: PartitionKey = user id, so a user's link and its index rows share one partition and change
  in ONE transaction (index and link never disagree).
  RowKey ``link|<link id>``: the link (fingerprints as JSON strings).
  RowKey ``event|<event id>`` / ``activity|<activity id>``: index row, ``link_id`` points at the link.
  These are unique: a second link claiming the same event or activity is a ``StateConflict``.
  A retired or detached link keeps its index rows, so a late echo still finds its tombstone. (A link an
  earlier version stored may also have an ``ical|<iCalUId>|<link id>`` row, which goes with its next save.)
  RowKey ``made|<note id>``: the events a group of creates made before their links were saved
  (``shared.state.events_made``).
- meetings: the tenant-wide meeting claims (R10) and their activity index (``shared.state.meetings``).
- cursors: PartitionKey = mailbox, RowKey ``delta`` (Graph delta cursor); PartitionKey = user id,
  RowKey ``erp|<feed>`` (ERP change-feed cursor).
- subscriptions: PartitionKey ``subscription``, RowKey = subscription id.
- leases: PartitionKey ``lease``, RowKey = user id: acquire inserts, or replaces an expired lease on its
  ETag (of two acquirers one wins). PartitionKey ``pending``: a user's queued sync (``shared.state.pending``).
- issues: PartitionKey = user id, RowKey = issue key; ``is_open`` flags unresolved ones.
- runs: the status page's read model (each user's and each job's last run); see ``shared.state.runs``.
- replays: PartitionKey = UTC hour the token was minted (a signed call's timestamp), RowKey = SHA-256
  of a one-time token (a signed hook call); insert-only, so a second insert of the same token is a
  replay. Hours older than the replay window are no longer read and may be deleted.

Optimistic concurrency: a record with ``etag`` None is inserted (``StateConflict`` if it exists); one with
an ETag replaces the stored record only if unchanged (``IfNotModified``), else ``StateConflict``. Returned
records carry the new ETag; deleting what is gone is a no-op. Limits are checked client side
(``shared.state.limits``); ``shared.state.entities`` says how values and over-large payloads are stored.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.core.links import Link
from shared.core.meetings import Meeting
from shared.errors import StateConflict
from shared.state import entities as ent
from shared.state import issue_entities as issue_ent
from shared.state import rows
from shared.state.events_made import TableEventsMade
from shared.state.housekeeping import TableHousekeeping
from shared.state.leases import TableLeases
from shared.state.links import TableLinks
from shared.state.meetings import TableMeetings
from shared.state.model import DeltaCursor, ErpCursor, Issue, JobRecord, Lease, RunRecord, SubscriptionRecord
from shared.state.pending import TablePending
from shared.state.port import StateStore
from shared.state.run_notes import TableRunNotes
from shared.state.runs import TableRuns

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]{0,49}")
# Read-modify-write rounds of an issue upsert: each round at least one contender wins, so this many
# workers recording the same issue at once all get counted.
_ISSUE_ATTEMPTS = 16
_ISSUE_BACKOFF_SECONDS = 0.005


class TableStateStore:
    """The sync's state (links, meetings, cursors, subscriptions, leases, issues, replays, runs) in eight tables."""

    def __init__(self, service: TableServiceClient, *, prefix: str = "sync") -> None:
        if not _PREFIX.fullmatch(prefix):
            raise ValueError("prefix must be 1-50 letters or digits starting with a letter (Table name rules)")
        self._service = service
        self._links = service.get_table_client(f"{prefix}Links")
        self._link_rows = TableLinks(self._links)
        self._made = TableEventsMade(self._links)
        self._cursors = service.get_table_client(f"{prefix}Cursors")
        self._subscriptions = service.get_table_client(f"{prefix}Subscriptions")
        self._leases = service.get_table_client(f"{prefix}Leases")
        self._lease_rows = TableLeases(self._leases)
        # Changes noted for a run under way (shared/state/run_notes.py).
        self._notes = TableRunNotes(self._leases, self._lease_rows)
        self._pending = TablePending(self._leases)  # one pending sync message per user (shared/state/pending.py)
        self._issues = service.get_table_client(f"{prefix}Issues")
        self._replays = service.get_table_client(f"{prefix}Replays")
        self._meeting_table = service.get_table_client(f"{prefix}Meetings")
        self._meetings = TableMeetings(self._meeting_table)
        self._run_table = service.get_table_client(f"{prefix}Runs")
        self._runs = TableRuns(self._run_table)
        self._housekeeping = TableHousekeeping(self._links, self._issues, self._replays)

    @classmethod
    def from_connection_string(cls, conn: str, *, prefix: str = "sync") -> TableStateStore:
        return cls(TableServiceClient.from_connection_string(conn), prefix=prefix)

    @classmethod
    def from_account(
        cls, account_url: str, credential: AsyncTokenCredential, *, prefix: str = "sync"
    ) -> TableStateStore:
        """With a managed identity (or any Entra credential) on ``https://<account>.table.<suffix>``."""
        return cls(TableServiceClient(endpoint=account_url, credential=credential), prefix=prefix)

    @property
    def _tables(self) -> tuple[TableClient, ...]:
        return (
            self._links,
            self._cursors,
            self._subscriptions,
            self._leases,
            self._issues,
            self._replays,
            self._run_table,
            self._meeting_table,  # last: tests/state/test_meetings.py reads it as table_names[-1]
        )

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(table.table_name for table in self._tables)

    async def ensure_tables(self) -> None:
        """Create the tables that do not exist yet (idempotent)."""
        for name in self.table_names:
            await self._service.create_table_if_not_exists(name)

    async def aclose(self) -> None:
        for table in self._tables:
            await table.close()
        await self._service.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- links -------------------------------------------------------------------------------------

    async def links_for_user(self, user_id: str, *, active_only: bool = False) -> Sequence[Link]:
        return await self._link_rows.links_for_user(user_id, active_only=active_only)

    async def link_by_event(self, user_id: str, event_id: str) -> Link | None:
        return await self._link_rows.link_by_event(user_id, event_id)

    async def link_by_activity(self, user_id: str, activity_id: str) -> Link | None:
        return await self._link_rows.link_by_activity(user_id, activity_id)

    async def save_link(self, link: Link) -> Link:
        return await self._link_rows.save_link(link)

    async def insert_links(self, links: Sequence[Link]) -> Sequence[Link | None]:
        return await self._link_rows.insert_links(links)

    async def delete_link(self, link: Link) -> None:
        await self._link_rows.delete_link(link)

    async def note_events_made(self, user_id: str, made: Mapping[str, str]) -> str:
        return await self._made.note_events_made(user_id, made)

    async def events_made(self, user_id: str) -> Mapping[str, Mapping[str, str]]:
        return await self._made.events_made(user_id)

    async def forget_events_made(self, user_id: str, note_ids: Sequence[str]) -> None:
        await self._made.forget_events_made(user_id, note_ids)

    # --- meetings (R10): see ``shared.state.meetings`` ---------------------------------------------

    async def get_meeting(self, ical_uid: str) -> Meeting | None:
        return await self._meetings.get_meeting(ical_uid)

    async def meeting_by_activity(self, activity_id: str) -> Meeting | None:
        return await self._meetings.meeting_by_activity(activity_id)

    async def claim_meeting(self, meeting: Meeting) -> Meeting | None:
        return await self._meetings.claim_meeting(meeting)

    async def save_meeting(self, meeting: Meeting, *, read: Meeting | None = None) -> Meeting:
        return await self._meetings.save_meeting(meeting, read=read)

    async def delete_meeting(self, meeting: Meeting) -> None:
        await self._meetings.delete_meeting(meeting)

    # --- cursors -----------------------------------------------------------------------------------

    async def get_delta_cursor(self, mailbox: str) -> DeltaCursor | None:
        row = await rows.get(self._cursors, *ent.delta_cursor_keys(mailbox))
        return None if row is None else ent.delta_cursor_from_entity(row, ent.etag_of(row))

    async def save_delta_cursor(self, cursor: DeltaCursor) -> DeltaCursor:
        etag = await rows.save(self._cursors, ent.delta_cursor_entity(cursor), cursor.etag, what="delta cursor")
        return cursor.model_copy(update={"etag": etag})

    async def clear_delta_cursor(self, mailbox: str) -> None:
        await rows.delete(self._cursors, *ent.delta_cursor_keys(mailbox))

    async def get_erp_cursor(self, user_id: str, feed: str) -> ErpCursor | None:
        row = await rows.get(self._cursors, *ent.erp_cursor_keys(user_id, feed))
        return None if row is None else ent.erp_cursor_from_entity(row, ent.etag_of(row))

    async def save_erp_cursor(self, cursor: ErpCursor) -> ErpCursor:
        etag = await rows.save(self._cursors, ent.erp_cursor_entity(cursor), cursor.etag, what="ERP cursor")
        return cursor.model_copy(update={"etag": etag})

    # --- subscriptions -----------------------------------------------------------------------------

    async def save_subscription(self, record: SubscriptionRecord) -> SubscriptionRecord:
        etag = await rows.save(self._subscriptions, ent.subscription_entity(record), record.etag, what="subscription")
        return record.model_copy(update={"etag": etag})

    async def get_subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        row = await rows.get(self._subscriptions, *ent.subscription_keys(subscription_id))
        return None if row is None else ent.subscription_from_entity(row, ent.etag_of(row))

    async def subscriptions(self) -> Sequence[SubscriptionRecord]:
        pk = ent.SUBSCRIPTION_PARTITION
        listed = self._subscriptions.query_entities("PartitionKey eq @pk", parameters={"pk": pk})
        return [ent.subscription_from_entity(row, ent.etag_of(row)) async for row in listed]

    async def delete_subscription(self, subscription_id: str) -> None:
        await rows.delete(self._subscriptions, *ent.subscription_keys(subscription_id))

    # --- leases (shared.state.leases) -----------------------------------------------------------------

    async def acquire_lease(self, user_id: str, *, owner: str, now: datetime, ttl_seconds: float) -> Lease | None:
        return await self._lease_rows.acquire_lease(user_id, owner=owner, now=now, ttl_seconds=ttl_seconds)

    async def renew_lease(self, lease: Lease, *, now: datetime, ttl_seconds: float) -> Lease | None:
        return await self._lease_rows.renew_lease(lease, now=now, ttl_seconds=ttl_seconds)

    async def get_lease(self, user_id: str) -> Lease | None:
        return await self._lease_rows.get_lease(user_id)

    async def release_lease(self, lease: Lease) -> None:
        await self._lease_rows.release_lease(lease)

    async def note_during_run(self, user_id: str, notes: Sequence[str], *, now: datetime) -> bool:
        return await self._notes.note_during_run(user_id, notes, now=now)

    async def take_run_notes(self, user_id: str) -> Sequence[str]:
        return await self._notes.take_run_notes(user_id)

    async def mark_sync_pending(self, user_id: str, *, now: datetime, stale_after: timedelta) -> bool:
        return await self._pending.mark_sync_pending(user_id, now=now, stale_after=stale_after)

    async def clear_sync_pending(self, user_id: str) -> None:
        await self._pending.clear_sync_pending(user_id)

    # --- issues ------------------------------------------------------------------------------------

    async def record_issue(self, issue: Issue) -> Issue:
        """Insert, or count a repeat of the open issue with the same key (R31); a resolved one reopens.

        The returned issue is what was stored: its payload may carry the truncation marker.
        """
        keys = issue_ent.issue_keys(issue.user_id, issue.key)
        for attempt in range(_ISSUE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_ISSUE_BACKOFF_SECONDS * attempt)
            stored_row = await rows.get(self._issues, *keys)
            if stored_row is None:
                entity = issue_ent.issue_entity(issue.model_copy(update={"resolved_at": None}))
                try:
                    created = await self._issues.create_entity(entity)
                except ResourceExistsError:
                    continue
                return issue_ent.issue_from_entity(entity, str(created["etag"]))
            stored = issue_ent.issue_from_entity(stored_row, ent.etag_of(stored_row))
            update: dict[str, object] = {"resolved_at": None}
            if stored.resolved_at is None:
                update |= {"first_seen": stored.first_seen, "occurrences": stored.occurrences + 1}
            entity = issue_ent.issue_entity(issue.model_copy(update=update))
            try:
                replaced = await self._issues.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=stored.etag, match_condition=MatchConditions.IfNotModified
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return issue_ent.issue_from_entity(entity, str(replaced["etag"]))
        raise StateConflict(f"issue {issue.key!r}: kept changing under {_ISSUE_ATTEMPTS} attempts to record it")

    async def resolve_issue(self, user_id: str, key: str, *, now: datetime) -> None:
        keys = issue_ent.issue_keys(user_id, key)
        for attempt in range(_ISSUE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_ISSUE_BACKOFF_SECONDS * attempt)
            row = await rows.get(self._issues, *keys)
            if row is None:
                return
            stored = issue_ent.issue_from_entity(row, ent.etag_of(row))
            if stored.resolved_at is not None:
                return
            try:
                await self._issues.update_entity(
                    issue_ent.issue_entity(stored.model_copy(update={"resolved_at": now})),
                    mode=UpdateMode.REPLACE,
                    etag=stored.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return
        raise StateConflict(f"issue {key!r}: kept changing under {_ISSUE_ATTEMPTS} attempts to resolve it")

    async def open_issues(self, user_id: str | None = None) -> Sequence[Issue]:
        if user_id is None:
            listed = self._issues.query_entities("is_open eq @open", parameters={"open": True})
        else:
            listed = self._issues.query_entities(
                "PartitionKey eq @pk and is_open eq @open",
                parameters={"pk": ent.user_partition(user_id), "open": True},
            )
        return [issue_ent.issue_from_entity(row, ent.etag_of(row)) async for row in listed]

    # --- the status page's read model: see ``shared.state.runs`` ---------------------------------------

    async def record_run(self, record: RunRecord) -> RunRecord:
        return await self._runs.record_run(record)

    async def last_runs(self) -> Sequence[RunRecord]:
        return await self._runs.last_runs()

    async def record_job_run(self, record: JobRecord) -> JobRecord:
        return await self._runs.record_job_run(record)

    async def job_runs(self) -> Sequence[JobRecord]:
        return await self._runs.job_runs()

    # --- the daily clean-up: see ``shared.state.housekeeping`` -----------------------------------------

    async def stale_links(self, *, before: datetime, limit: int) -> Sequence[Link]:
        return await self._housekeeping.stale_links(before=before, limit=limit)

    async def delete_links(self, links: Sequence[Link]) -> int:
        return await self._housekeeping.delete_links(links)

    async def prune_resolved_issues(self, *, before: datetime, limit: int) -> int:
        return await self._housekeeping.prune_resolved_issues(before=before, limit=limit)

    async def prune_replays(self, *, before: datetime, limit: int) -> int:
        return await self._housekeeping.prune_replays(before=before, limit=limit)

    # --- replay guard ---

    async def first_use(self, token: str, *, at: datetime) -> bool:
        return await rows.first_use(self._replays, token, at=at)


if TYPE_CHECKING:

    def _implements_the_port(store: TableStateStore) -> StateStore:
        """mypy proves here that ``TableStateStore`` satisfies the ``StateStore`` protocol."""
        return store
