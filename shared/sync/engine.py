"""``SyncEngine.sync_user``: one user's run, end to end.

Order of a run: take the user's lease; check the user is syncable (R2); read M365 changes
(calendar-view delta, or the initial window, R4) and confirm every ``@removed`` with a direct read
(R9); read the ERP change feed; re-offer items with open issues (R31); plan (pure core); execute
each action, saving its link right after the write; store both cursors; release the lease.
A transient failure aborts before the cursors move, so the next run sees the same changes again;
links make that replay harmless (R10).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from shared.core.actions import (
    Action,
    CreateActivity,
    CreateEvent,
    DeleteEvent,
    DetachLink,
    Relink,
    Remember,
    Skip,
    UpdateActivity,
    UpdateEvent,
    VoidActivity,
)
from shared.core.directory import Directory
from shared.core.fingerprint import fingerprint
from shared.core.items import CalendarItem, Field, ItemKind, Side
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry, EventWrite, M365Event
from shared.core.mapping import activity_fields, activity_patch, event_write, item_from_activity, item_from_event
from shared.core.planner import RunInput, plan
from shared.core.policy import SyncPolicy
from shared.core.activities import (
    Activity,
    ActivityChange,
    ActivityState,
    ActivityType,
    Contact,
    ErpUser,
    Facility,
    Origin,
)
from shared.erp.port import ErpPort
from shared.errors import (
    ErpConflict,
    ErpError,
    ErpInvalid,
    ErpNotFound,
    ErpReadOnly,
    ErpTransient,
    GraphError,
    GraphInvalid,
    GraphMailboxUnavailable,
    GraphNotFound,
    GraphSyncStateLost,
    GraphTransient,
)
from shared.graph.port import CalendarPort
from shared.state.model import DeltaCursor, ErpCursor, Issue, IssueKind
from shared.state.port import StateStore
from shared.sync.report import RunReport

log = logging.getLogger(__name__)
ACTIVITY_FEED = "activities"
# Longer than the host's functionTimeout (10 min in host.json): a run cannot outlive its lease, so two
# workers never sync one user at once even when a large initial pull takes minutes.
LEASE_SECONDS = 660.0
# Delta rounds after the plan's own calendar writes (each absorbs the writes of the one before).
FOLLOW_UP_ROUNDS = 3
# A delta window is renewed (a fresh initial pull, which never deletes) when less than this is left of it.
WINDOW_RENEW_BEFORE = timedelta(days=7)
_NAMESPACE = uuid.UUID("0f5b9a9e-6c1e-4c55-a3e4-2f6a4b7d9c10")


class SyncEngine:
    def __init__(
        self,
        *,
        calendar: CalendarPort,
        erp: ErpPort,
        state: StateStore,
        policy: SyncPolicy,
        clock: Callable[[], datetime],
        worker_id: str,
    ) -> None:
        self._calendar = calendar
        self._erp = erp
        self._state = state
        self._policy = policy
        self._clock = clock
        self._worker = worker_id

    # --- the run ---

    async def sync_user(self, user_id: str) -> RunReport:
        report = RunReport(user_id=user_id)
        lease = await self._state.acquire_lease(
            user_id, owner=self._worker, now=self._clock(), ttl_seconds=LEASE_SECONDS
        )
        if lease is None:
            report.status = "busy"
            return report
        try:
            await self._run(user_id, report)
        finally:
            await self._state.release_lease(lease)
        log.info(report.summary())
        return report

    async def _run(self, user_id: str, report: RunReport) -> None:
        now = self._clock()
        open_issues = list(await self._state.open_issues(user_id))
        open_keys = {issue.key for issue in open_issues}
        user = await self._syncable_user(user_id, report, open_keys)
        if user is None:
            return
        mailbox = user.email or ""
        try:
            m365_changes, delta_cursor, m365_initial = await self._read_m365(mailbox, now)
        except GraphMailboxUnavailable:
            await self._issue(
                user_id,
                "user",
                IssueKind.UNSYNCABLE_USER,
                f"the mailbox {mailbox} cannot be read through Graph (R2)",
                report,
            )
            report.status = "unsyncable"
            return
        erp_cursor = await self._state.get_erp_cursor(user_id, ACTIVITY_FEED)
        feed = await self._erp.activity_changes(
            user_id=user_id,
            cursor=erp_cursor.cursor if erp_cursor else None,
            ends_after=now - timedelta(hours=self._policy.erp_lookback_hours),
        )
        links = list(await self._state.links_for_user(user_id))
        m365_changes = await self._confirmed(mailbox, m365_changes, links)
        m365_retries, erp_retries = await self._retries(user_id, mailbox, links, m365_changes, feed.items, open_issues)
        the_plan = plan(
            RunInput(
                user_id=user_id,
                mailbox=mailbox,
                policy=self._policy,
                now=now,
                links=links,
                m365_changes=[*m365_changes, *m365_retries],
                erp_changes=[*feed.items, *erp_retries],
                m365_initial=m365_initial,
                erp_initial=erp_cursor is None,
            )
        )
        if the_plan.halted:
            await self._issue(user_id, "mass-delete", IssueKind.MASS_DELETE, the_plan.halted, report)
            report.status, report.detail = "halted", the_plan.halted
            return  # R11: nothing written, cursors unchanged, until a person looks
        run = _Run(user=user, mailbox=mailbox, report=report, open_issue_keys=open_keys)
        for action in the_plan.actions:
            await self._execute(action, run)
        delta_cursor = await self._absorb_own_writes(delta_cursor, run, now)
        await self._state.save_delta_cursor(delta_cursor)
        await self._state.save_erp_cursor(
            ErpCursor(
                user_id=user_id,
                feed=ACTIVITY_FEED,
                cursor=feed.cursor,
                updated_at=now,
                etag=erp_cursor.etag if erp_cursor else None,
            )
        )

    async def _absorb_own_writes(self, cursor: DeltaCursor, run: _Run, now: datetime) -> DeltaCursor:
        """Follow the delta again after writing to the calendar, so the stored token has seen our writes.

        Without this, an event the sync created after the token was taken and a person deleted before the
        next run is reported by no delta at all, and its ERP record would never be voided (R8). The extra
        round mostly returns our own echoes (no-ops, R5); a person's change that slipped in is synced now.
        """
        for _ in range(FOLLOW_UP_ROUNDS):
            if not run.wrote_m365:
                break
            run.wrote_m365 = False
            result = await self._calendar.delta_follow(cursor.delta_link)
            cursor = cursor.model_copy(update={"delta_link": result.delta_link, "updated_at": now})
            links = list(await self._state.links_for_user(run.user.id))
            entries = await self._confirmed(run.mailbox, result.entries, links)
            follow_up = plan(
                RunInput(
                    user_id=run.user.id,
                    mailbox=run.mailbox,
                    policy=self._policy,
                    now=now,
                    links=links,
                    m365_changes=entries,
                )
            )
            if follow_up.halted:
                await self._issue(run.user.id, "mass-delete", IssueKind.MASS_DELETE, follow_up.halted, run.report)
                break
            for action in follow_up.actions:
                await self._execute(action, run)
        return cursor

    async def _syncable_user(self, user_id: str, report: RunReport, open_keys: set[str]) -> ErpUser | None:
        """R2: an enabled ERP user with a mailbox address and the defaults a new activity needs."""
        try:
            user = await self._erp.get_user(user_id)
        except ErpNotFound:
            user = None
        missing = (
            ([] if user else ["ERP user"])
            + ([] if user and user.enabled else ["enabled"])
            + ([] if user and user.email else ["mailbox address"])
            + ([] if user and user.default_company_id else ["default company"])
            + ([] if user and user.default_location_id else ["default location"])
        )
        if user is None or missing:
            await self._issue(
                user_id,
                "user",
                IssueKind.UNSYNCABLE_USER,
                "not syncable, missing: " + ", ".join(missing) + " (R2)",
                report,
            )
            report.status = "unsyncable"
            return None
        if "user" in open_keys:
            await self._state.resolve_issue(user_id, "user", now=self._clock())
        return user

    async def _read_m365(self, mailbox: str, now: datetime) -> tuple[list[DeltaEntry], DeltaCursor, bool]:
        cursor = await self._state.get_delta_cursor(mailbox)
        result = None
        if cursor is not None and cursor.window_end - now > WINDOW_RENEW_BEFORE:
            try:
                result = await self._calendar.delta_follow(cursor.delta_link)
            except GraphSyncStateLost:
                log.warning("delta token lost for a mailbox; restarting its window (R4)")
        initial = result is None
        if result is None:  # R4: from today to the window's end
            start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
            end = start + timedelta(days=self._policy.window_days)
            result = await self._calendar.delta_start(mailbox, start=start, end=end)
            window = (start, end)
        else:
            assert cursor is not None
            window = (cursor.window_start, cursor.window_end)
        new_cursor = DeltaCursor(
            mailbox=mailbox,
            delta_link=result.delta_link,
            window_start=window[0],
            window_end=window[1],
            updated_at=now,
            etag=cursor.etag if cursor else None,
        )
        return list(result.entries), new_cursor, initial

    async def _confirm_removal(self, mailbox: str, entry: DeltaEntry) -> DeltaEntry:
        """R9: ``@removed`` also means "moved out of the window"; only a failed direct read is a deletion."""
        try:
            event = await self._calendar.get_event(mailbox, entry.event_id)
        except GraphNotFound:
            return entry
        return DeltaEntry(event_id=entry.event_id, event=event)

    async def _confirmed(self, mailbox: str, entries: Sequence[DeltaEntry], links: Sequence[Link]) -> list[DeltaEntry]:
        """Delta entries ready to plan: removals confirmed by a direct read (R9), and our ERP stamp read on
        events we have no link for, since delta answers carry no extended properties (R10)."""
        linked = {link.event_id for link in links}
        out = []
        for entry in entries:
            if entry.removed:
                entry = await self._confirm_removal(mailbox, entry)
            elif entry.event is not None and entry.event_id not in linked and entry.event.erp_stamp is None:
                try:
                    entry = DeltaEntry(
                        event_id=entry.event_id, event=await self._calendar.get_event(mailbox, entry.event_id)
                    )
                except GraphNotFound:
                    entry = DeltaEntry(event_id=entry.event_id)
            out.append(entry)
        return out

    async def _retries(
        self,
        user_id: str,
        mailbox: str,
        links: Sequence[Link],
        m365: Sequence[DeltaEntry],
        erp: Sequence[ActivityChange],
        open_issues: Sequence[Issue],
    ) -> tuple[list[DeltaEntry], list[ActivityChange]]:
        """R31: items refused earlier are offered again, so a fixed cause lets them sync on this run."""
        seen_events = {e.event_id for e in m365}
        seen_activities = {c.activity_id for c in erp}
        m365_retries: list[DeltaEntry] = []
        erp_retries: list[ActivityChange] = []
        linked_events = {link.event_id for link in links}
        for issue in open_issues:
            if issue.kind not in (IssueKind.REFUSED_ITEM, IssueKind.FAILURE):
                continue
            if issue.event_id and issue.event_id not in seen_events and issue.event_id not in linked_events:
                try:
                    m365_retries.append(
                        DeltaEntry(
                            event_id=issue.event_id, event=await self._calendar.get_event(mailbox, issue.event_id)
                        )
                    )
                except GraphNotFound:
                    await self._state.resolve_issue(user_id, issue.key, now=self._clock())
            elif issue.activity_id and issue.activity_id not in seen_activities:
                try:
                    activity = await self._erp.get_activity(issue.activity_id)
                except ErpNotFound:
                    await self._state.resolve_issue(user_id, issue.key, now=self._clock())
                    continue
                erp_retries.append(ActivityChange(seq=0, activity_id=activity.id, owner_id=user_id, activity=activity))
        return m365_retries, erp_retries

    # --- executing actions ---

    async def _execute(self, action: Action, run: _Run) -> None:
        key = _issue_key(action)
        try:
            await self._apply(action, run)
        except ErpReadOnly as error:
            await self._conflict(action, run, error)
            return
        except (ErpTransient, GraphTransient):
            raise  # the whole run is retried; cursors stay where they were
        except (ErpInvalid, GraphInvalid, ErpConflict, ErpNotFound, GraphNotFound, ErpError, GraphError) as error:
            kind = IssueKind.REFUSED_ITEM if isinstance(error, ErpInvalid | GraphInvalid) else IssueKind.FAILURE
            await self._issue(
                run.user.id,
                key,
                kind,
                f"{type(action).__name__} failed: {error}",
                run.report,
                event_id=_event_id(action),
                activity_id=_activity_id(action),
                payload=_payload(action),
            )
            return
        if key in run.open_issue_keys and not isinstance(action, Skip):
            await self._state.resolve_issue(run.user.id, key, now=self._clock())

    async def _apply(self, action: Action, run: _Run) -> None:
        match action:
            case CreateActivity():
                await self._create_activity(action, run)
            case UpdateActivity():
                await self._update_activity(action, run)
            case VoidActivity():
                await self._void_activity(action, run)
            case DetachLink():
                await self._save(run.current(action.link).model_copy(update={"state": LinkState.DETACHED}), run)
                run.report.count("detached")
            case CreateEvent():
                await self._create_event(action, run)
            case UpdateEvent():
                await self._update_event(action, run)
            case DeleteEvent():
                link = run.current(action.link)
                if link.event_id:
                    await self._calendar.delete_event(run.mailbox, link.event_id)
                    run.wrote_m365 = True
                await self._save(link.retired(now=self._clock()), run)
                run.report.count("m365 deleted")
            case Relink():
                await self._relink(action, run)
            case Remember():
                await self._remember(action, run)
            case Skip():
                run.report.skipped.append(f"{action.side.value} {action.record_id}: {action.reason}")

    async def _create_activity(self, action: CreateActivity, run: _Run) -> None:
        event, item = action.event, action.item
        if not run.meeting_type_ready:  # R23: the planner creates meetings only, so their type must exist
            await self._erp.ensure_activity_type(ActivityType.MEETING)
            run.meeting_type_ready = True
        directory = await self._directory(item, run)
        fields = activity_fields(
            item,
            user=run.user,
            directory=directory,
            origin=Origin(mailbox=run.mailbox, event_id=event.id, ical_uid=event.ical_uid),
        )
        key = "m365-" + hashlib.sha256(f"{run.mailbox.lower()}|{event.id}".encode()).hexdigest()[:40]
        activity = await self._erp.create_activity(fields, idempotency_key=key)  # R10: a retry returns the first
        await self._save(
            self._new_link(
                run,
                kind=item.kind,
                origin=Side.M365,
                event=event,
                activity=activity,
                m365_fields=fingerprint(item),
                erp_fields=fingerprint(item_from_activity(activity)),
            ),
            run,
        )
        run.report.count("erp created")

    async def _update_activity(self, action: UpdateActivity, run: _Run) -> None:
        link = run.current(action.link)
        assert link.activity_id is not None
        directory = await self._directory(action.item, run)
        patch = activity_patch(action.item, action.fields, owner_id=run.user.id, directory=directory)
        # Write with the version last synced; only when the ERP changed meanwhile (stale version) re-read
        # and try once more. A read-only record answers ErpReadOnly either way (R7).
        version = link.erp_version
        for attempt in (1, 2):
            if version is None:
                activity = await self._erp.get_activity(link.activity_id)
                if activity.read_only:
                    raise ErpReadOnly(f"activity is {activity.state.value}", status=409)
                version = activity.version
            try:
                updated = await self._erp.update_activity(link.activity_id, patch, version=version)
                break
            except ErpConflict:
                if attempt == 2:
                    raise
                version = None
        erp_now = fingerprint(item_from_activity(updated))
        await self._save(
            link.model_copy(
                update={
                    "m365_fields": fingerprint(action.item),
                    # Only the written fields count as synced: an ERP edit that slipped in meanwhile still flows.
                    "erp_fields": {**link.erp_fields, **{f: erp_now[f] for f in action.fields}},
                    "m365_change_key": action.event.change_key,
                    "m365_modified_at": action.event.last_modified,
                    "erp_version": updated.version,
                    "erp_modified_at": updated.modified_at,
                    "updated_at": self._clock(),
                }
            ),
            run,
        )
        run.report.count("erp updated")

    async def _void_activity(self, action: VoidActivity, run: _Run) -> None:
        link = run.current(action.link)
        assert link.activity_id is not None
        try:
            activity = await self._erp.get_activity(link.activity_id)
            if activity.state is not ActivityState.VOIDED:
                if activity.read_only:
                    raise ErpReadOnly(f"activity is {activity.state.value}; cannot void it", status=409)
                await self._erp.void_activity(activity.id, version=activity.version)
        except ErpNotFound:
            pass
        await self._save(link.retired(now=self._clock()), run)
        run.report.count("erp voided")

    async def _create_event(self, action: CreateEvent, run: _Run) -> None:
        activity, item = action.activity, action.item
        contact_lines = await self._contact_lines(activity, run)
        write = event_write(
            item,
            tuple(f for f in Field if action.invite or f is not Field.ATTENDEES),
            origin=Side.ERP,
            company_name=await self._company_name(activity, run),
            web_url=activity.web_url,
            contact_lines=contact_lines,
            erp_stamp=activity.id,
            transaction_id=str(uuid.uuid5(_NAMESPACE, f"{run.mailbox.lower()}|{activity.id}")),
        )
        event = await self._calendar.create_event(run.mailbox, write)
        run.wrote_m365 = True
        kind = ItemKind(activity.type.value)
        await self._save(
            self._new_link(
                run,
                kind=kind,
                origin=Side.ERP,
                event=event,
                activity=activity,
                m365_fields=self._m365_fingerprint(event, kind),
                erp_fields=fingerprint(item),
            ),
            run,
        )
        run.report.count("m365 created")

    async def _update_event(self, action: UpdateEvent, run: _Run) -> None:
        link = run.current(action.link)
        assert link.event_id is not None
        activity = action.activity
        contact_lines = await self._contact_lines(activity, run)
        write = event_write(
            action.item,
            action.fields,
            origin=link.origin,
            company_name=await self._company_name(activity, run) if Field.SUBJECT in action.fields else None,
            web_url=activity.web_url,
            contact_lines=contact_lines,
        )
        event = await self._calendar.update_event(run.mailbox, link.event_id, write)
        run.wrote_m365 = True
        m365_now = self._m365_fingerprint(event, link.kind)
        erp_read = fingerprint(action.item)
        # In a two-sided merge the ERP was written just before (UpdateActivity): its newer fingerprints and
        # version are already on the link, and this activity is the older read, so only the fields written
        # here are taken from it.
        newer_erp = link.erp_version is not None and link.erp_version > activity.version
        await self._save(
            link.model_copy(
                update={
                    "erp_fields": {**link.erp_fields, **{f: erp_read[f] for f in action.fields}},
                    "m365_fields": {**link.m365_fields, **{f: m365_now[f] for f in action.fields}},
                    "m365_change_key": event.change_key,
                    "m365_modified_at": event.last_modified,
                    "erp_version": link.erp_version if newer_erp else activity.version,
                    "erp_modified_at": link.erp_modified_at if newer_erp else activity.modified_at,
                    "updated_at": self._clock(),
                }
            ),
            run,
        )
        run.report.count("m365 updated")

    async def _relink(self, action: Relink, run: _Run) -> None:
        try:
            event = await self._calendar.get_event(run.mailbox, action.event_id)
            activity = await self._erp.get_activity(action.activity_id)
        except (GraphNotFound, ErpNotFound):
            run.report.skipped.append(f"relink {action.event_id}: one side is gone")
            return
        kind = ItemKind(activity.type.value)
        await self._save(
            self._new_link(
                run,
                kind=kind,
                origin=action.origin,
                event=event,
                activity=activity,
                m365_fields=self._m365_fingerprint(event, kind),
                erp_fields=fingerprint(item_from_activity(activity)),
            ),
            run,
        )
        run.report.count("relinked")

    async def _remember(self, action: Remember, run: _Run) -> None:
        link = run.current(action.link)
        update: dict[str, object] = {"updated_at": self._clock()}
        if action.event is not None:
            update["m365_fields"] = self._m365_fingerprint(action.event, link.kind)
            update["m365_change_key"] = action.event.change_key
        if action.activity is not None:
            update["erp_fields"] = fingerprint(item_from_activity(action.activity))
            update["erp_version"] = action.activity.version
        await self._save(link.model_copy(update=update), run)

    async def _conflict(self, action: Action, run: _Run, error: ErpReadOnly) -> None:
        """R7: the ERP record stays; the event is marked and the M365 version kept in the conflict record."""
        event = action.event if isinstance(action, UpdateActivity) else None
        link = action.link if isinstance(action, UpdateActivity | VoidActivity) else None
        await self._issue(
            run.user.id,
            _issue_key(action),
            IssueKind.CONFLICT,
            f"the ERP record is read-only ({error}); the M365 change was not applied (R7)",
            run.report,
            event_id=_event_id(action),
            activity_id=_activity_id(action),
            payload=_payload(action),
        )
        if event is not None and link is not None:
            marker = self._policy.conflict_category
            if marker not in event.categories:
                with contextlib.suppress(GraphNotFound):
                    await self._calendar.update_event(
                        run.mailbox, event.id, EventWrite(categories=(*event.categories, marker))
                    )
                    run.wrote_m365 = True
            # The M365 version is in the conflict record; remember it so it is not re-applied every run.
            await self._save(
                run.current(link).model_copy(
                    update={
                        "m365_fields": fingerprint(item_from_event(event, kind=link.kind, conflict_category=marker)),
                        "updated_at": self._clock(),
                    }
                ),
                run,
            )
        elif link is not None:
            await self._save(run.current(link).retired(now=self._clock()), run)
        run.report.count("conflicts")

    # --- helpers ---

    def _new_link(
        self,
        run: _Run,
        *,
        kind: ItemKind,
        origin: Side,
        event: M365Event,
        activity: Activity,
        m365_fields: dict[Field, str],
        erp_fields: dict[Field, str],
    ) -> Link:
        """A new pairing of ``event`` and ``activity`` as each side shows them now."""
        return Link(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            kind=kind,
            origin=origin,
            event_id=event.id,
            ical_uid=event.ical_uid,
            activity_id=activity.id,
            m365_fields=m365_fields,
            erp_fields=erp_fields,
            m365_change_key=event.change_key,
            erp_version=activity.version,
            m365_modified_at=event.last_modified,
            erp_modified_at=activity.modified_at,
            updated_at=self._clock(),
        )

    def _m365_fingerprint(self, event: M365Event, kind: ItemKind) -> dict[Field, str]:
        """The event's fingerprints; the sync's own conflict marker is not a user category (R7)."""
        return fingerprint(item_from_event(event, kind=kind, conflict_category=self._policy.conflict_category))

    async def _save(self, link: Link, run: _Run) -> Link:
        """Store the link and keep the stored copy (with its new ETag) for later actions of this run."""
        return run.remember(await self._state.save_link(link))

    async def _directory(self, item: CalendarItem, run: _Run) -> Directory:
        emails = sorted({a.email.lower() for a in item.attendees})
        if not emails:
            return Directory()
        if run.users is None:
            run.users = list(await self._erp.list_users(enabled_only=False))
        if run.facilities is None:
            run.facilities = list(await self._erp.list_facilities())
        contacts = await self._contacts(emails, run)
        return Directory.build(users=run.users, contacts=contacts, facilities=run.facilities)

    async def _company_name(self, activity: Activity, run: _Run) -> str | None:
        """R21: the company a meeting's title names; None when it has none."""
        if activity.type is not ActivityType.MEETING or not activity.company_id:
            return None
        return await self._company(activity.company_id, run)

    async def _company(self, company_id: str, run: _Run) -> str | None:
        """A company's name, asked of the ERP once per run."""
        if company_id not in run.company_names:
            try:
                run.company_names[company_id] = (await self._erp.get_company(company_id)).name
            except ErpNotFound:
                # A company removed in the ERP leaves the text without it rather than failing the event.
                run.company_names[company_id] = None
        return run.company_names[company_id]

    async def _contacts(self, emails: Sequence[str], run: _Run) -> list[Contact]:
        """ERP contacts by email, each address asked of the ERP at most once per run."""
        wanted = {e.lower() for e in emails}
        missing = sorted(wanted - run.contacts.keys())
        if missing:
            found = {c.email.lower(): c for c in await self._erp.find_contacts(missing) if c.email}
            run.contacts.update({e: found.get(e) for e in missing})
        return [c for e in sorted(wanted) if (c := run.contacts.get(e)) is not None]

    async def _contact_lines(self, activity: Activity, run: _Run) -> tuple[str, ...]:
        """R19: the contact's name, company, phone and email in the body of a task or call event."""
        if activity.type is ActivityType.MEETING:
            return ()
        emails = [p.email for p in activity.participants if p.kind.value == "contact"]
        if not emails:
            return ()
        lines = []
        for contact in await self._contacts(emails, run):
            company = await self._company(contact.company_id, run) if contact.company_id else None
            details = [contact.name, company or "", contact.phone or "", contact.email or ""]
            lines.append("Contact: " + ", ".join(d for d in details if d))
        return tuple(lines)

    async def _issue(
        self,
        user_id: str,
        key: str,
        kind: IssueKind,
        reason: str,
        report: RunReport,
        *,
        event_id: str | None = None,
        activity_id: str | None = None,
        payload: str | None = None,
    ) -> None:
        now = self._clock()
        await self._state.record_issue(
            Issue(
                user_id=user_id,
                key=key or kind.value,
                kind=kind,
                reason=reason,
                event_id=event_id,
                activity_id=activity_id,
                payload=payload,
                first_seen=now,
                last_seen=now,
            )
        )
        report.issues.append(f"{kind.value}: {reason}")
        log.warning("sync issue for user %s: %s: %s", user_id, kind.value, reason)


class _Run:
    """Per-run memory: the latest version of each link written, and look-ups done once."""

    def __init__(self, *, user: ErpUser, mailbox: str, report: RunReport, open_issue_keys: set[str]) -> None:
        self.open_issue_keys = open_issue_keys
        self.user = user
        self.mailbox = mailbox
        self.report = report
        self.links: dict[str, Link] = {}
        self.users: list[ErpUser] | None = None
        self.facilities: list[Facility] | None = None
        self.company_names: dict[str, str | None] = {}
        self.contacts: dict[str, Contact | None] = {}
        self.meeting_type_ready = False
        # Set by every write to the calendar: the delta token taken before it has not seen it yet.
        self.wrote_m365 = False

    def current(self, link: Link) -> Link:
        return self.links.get(link.link_id, link)

    def remember(self, link: Link) -> Link:
        self.links[link.link_id] = link
        return link


def _event_id(action: Action) -> str | None:
    if isinstance(action, CreateActivity | UpdateActivity):
        return action.event.id
    if isinstance(action, Relink):
        return action.event_id
    link = getattr(action, "link", None)
    return link.event_id if isinstance(link, Link) else None


def _activity_id(action: Action) -> str | None:
    if isinstance(action, CreateEvent | UpdateEvent):
        return action.activity.id
    if isinstance(action, Relink):
        return action.activity_id
    link = getattr(action, "link", None)
    return link.activity_id if isinstance(link, Link) else None


def _issue_key(action: Action) -> str:
    event_id, activity_id = _event_id(action), _activity_id(action)
    return f"item|{event_id or ''}|{activity_id or ''}"


def _payload(action: Action) -> str | None:
    """The version that could not be applied, kept so nothing is lost (R7, R31)."""
    if isinstance(action, CreateActivity | UpdateActivity):
        return action.event.model_dump_json()
    if isinstance(action, CreateEvent | UpdateEvent):
        return action.activity.model_dump_json()
    return json.dumps({"action": type(action).__name__})
