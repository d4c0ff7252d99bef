"""R18: what to do with one link's files, decided from both sides' file lists and the link's pairs (pure).

The decision table, per file (the link's ``attachments`` are the pairs of the last sync):

| event file | activity file | pair | action |
|---|---|---|---|
| there | there | yes | nothing |
| gone | gone | yes | forget the pair |
| gone | there | yes | remove it from the ERP, or put it back in Outlook when Outlook may not change the ERP |
| there | gone | yes | remove it from Outlook, or put it back in the ERP when the ERP may not change Outlook |
| there | – | no | same bytes as an unpaired activity file (a crash lost the pair): pair them; else copy to the ERP |
| – | there | no | copy to Outlook |

A copy past the receiving side's limit is refused with an issue for the admin (R31): never dropped silently,
and tried again while the issue is open. Inline files (pictures in an event's body) stay where they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.core.attachments import (
    GRAPH_UPLOAD_SESSION_LIMIT,
    ActivityAttachment,
    AttachmentPair,
    EventAttachment,
)
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkChanges, LinkState
from shared.core.meetings import LinkRole
from shared.core.policy import SyncPolicy
from shared.core.run import Ways


@dataclass(frozen=True)
class PairFiles:
    """The event file and the activity file hold the same bytes already: remember them as one."""

    event_file: EventAttachment
    activity_file: ActivityAttachment


@dataclass(frozen=True)
class CompletePair:
    """A copy that was under way when a run ended landed: its pair now names both files."""

    pending: AttachmentPair
    pair: AttachmentPair


@dataclass(frozen=True)
class CopyToErp:
    """Read the event file's bytes and attach them to the activity."""

    event_file: EventAttachment
    replaces: AttachmentPair | None = None


@dataclass(frozen=True)
class CopyToOutlook:
    """Read the activity file's bytes and attach them to the event."""

    activity_file: ActivityAttachment
    replaces: AttachmentPair | None = None


@dataclass(frozen=True)
class RemoveFromErp:
    pair: AttachmentPair


@dataclass(frozen=True)
class RemoveFromOutlook:
    pair: AttachmentPair


@dataclass(frozen=True)
class ForgetPair:
    pair: AttachmentPair


@dataclass(frozen=True)
class RefuseFile:
    """A file the receiving side (``to``) cannot take: bigger than ``limit`` bytes."""

    to: Side
    file_id: str
    name: str
    size: int
    limit: int

    @property
    def key_suffix(self) -> str:
        return f"{self.to.value}:{self.file_id}"


FileAction = (
    PairFiles | CompletePair | CopyToErp | CopyToOutlook | RemoveFromErp | RemoveFromOutlook | ForgetPair | RefuseFile
)


@dataclass(frozen=True)
class LinkFiles:
    """One link's files on both sides now, and what the sync may do with them."""

    link: Link
    event_files: tuple[EventAttachment, ...]
    activity_files: tuple[ActivityAttachment, ...]
    # Outlook's file changes may reach the ERP; the ERP's may reach Outlook (R1 direction, R20/R21 ownership).
    to_erp: bool
    to_outlook: bool
    erp_limit: int
    graph_limit: int = GRAPH_UPLOAD_SESSION_LIMIT
    # SHA-256 of event files read to compare them with activity files (``files_to_compare``).
    event_hashes: Mapping[str, str] = field(default_factory=dict)


def syncs_files(link: Link) -> bool:
    """R18: files sync on the owner's link of a single event or a series (its master), never on an attendee's copy
    (Graph gives every attendee the organizer's files) nor on one occurrence of a series."""
    return (
        link.state is LinkState.ACTIVE
        and link.role is LinkRole.OWNER
        and link.event_id is not None
        and link.activity_id is not None
        and link.original_start is None
        and link.kind is not ItemKind.LEAVE
    )


def file_ways(policy: SyncPolicy, link: Link, *, mailbox: str, user_id: str) -> tuple[bool, bool]:
    """Whether Outlook's file changes may reach the ERP, and the ERP's reach Outlook: the user's direction (R1),
    and for an ERP-created item the ERP owns its files unless the policy lets Outlook change them (R20/R21)."""
    ways = Ways.for_user(policy, mailbox, user_id)
    outlook_owns = link.origin is Side.M365 or link.kind in policy.m365_files_for_erp_items
    return ways.to_erp and outlook_owns, ways.to_m365


def _files(event_files: Iterable[EventAttachment]) -> dict[str, EventAttachment]:
    return {f.id: f for f in event_files if not f.is_inline}


def _unpaired(
    files: LinkFiles, pairs: Iterable[AttachmentPair]
) -> tuple[list[EventAttachment], list[ActivityAttachment]]:
    paired_events = {p.event_attachment_id for p in pairs}
    paired_activities = {p.activity_attachment_id for p in pairs}
    events = [f for f in _files(files.event_files).values() if f.id not in paired_events]
    activities = [f for f in files.activity_files if f.id not in paired_activities]
    return events, activities


def files_to_compare(files: LinkFiles) -> tuple[EventAttachment, ...]:
    """Unpaired event files that may hold the same bytes as an unpaired activity file or a copy to Outlook under
    way (same size): their hash decides whether they are one file (a copy whose pair a crash lost) before
    anything is copied."""
    if not files.to_erp and not files.to_outlook:
        return ()
    full = [p for p in files.link.attachments if not p.pending]
    events, activities = _unpaired(files, full)
    sizes = {f.size for f in activities} | {p.size for p in files.link.attachments if p.event_attachment_id is None}
    return tuple(f for f in events if f.size in sizes)


def _completed(files: LinkFiles) -> tuple[list[AttachmentPair], list[FileAction]]:
    """The link's pairs with each copy under way settled: landed (its copy found by hash: ``CompletePair``) or not
    (``ForgetPair``: the original, if still there, is unpaired again and copied anew)."""
    full = [p for p in files.link.attachments if not p.pending]
    free_events, free_activities = _unpaired(files, full)
    actions: list[FileAction] = []
    for pending in (p for p in files.link.attachments if p.pending):
        landed: AttachmentPair | None = None
        if pending.event_attachment_id is None:  # to Outlook
            event_file = next((f for f in free_events if files.event_hashes.get(f.id) == pending.sha256), None)
            if event_file is not None:
                free_events.remove(event_file)
                landed = pending.model_copy(update={"event_attachment_id": event_file.id})
        else:  # to the ERP
            activity_file = next((f for f in free_activities if f.sha256 == pending.sha256), None)
            if activity_file is not None:
                free_activities.remove(activity_file)
                landed = pending.model_copy(update={"activity_attachment_id": activity_file.id})
        if landed is None:
            actions.append(ForgetPair(pending))
        else:
            actions.append(CompletePair(pending, landed))
            full.append(landed)
    return full, actions


def plan_files(files: LinkFiles) -> list[FileAction]:
    """The actions that make both sides hold the same files (the table in the module docstring)."""
    events = _files(files.event_files)
    activities = {f.id: f for f in files.activity_files}
    pairs, actions = _completed(files)
    for pair in pairs:
        on_event, on_activity = pair.event_attachment_id in events, pair.activity_attachment_id in activities
        if on_event and on_activity:
            continue
        if not on_event and not on_activity:
            actions.append(ForgetPair(pair))
        elif not on_event:
            if files.to_erp:
                actions.append(RemoveFromErp(pair))
            elif files.to_outlook:
                actions.append(_to_outlook(files, activities[pair.activity_attachment_id or ""], pair))
            else:
                actions.append(ForgetPair(pair))
        elif files.to_outlook:
            actions.append(RemoveFromOutlook(pair))
        elif files.to_erp:
            actions.append(_to_erp(files, events[pair.event_attachment_id or ""], pair))
        else:
            actions.append(ForgetPair(pair))
    unpaired_events, unpaired_activities = _unpaired(files, pairs)
    waiting: dict[str, list[ActivityAttachment]] = {}
    for activity_file in unpaired_activities:
        waiting.setdefault(activity_file.sha256, []).append(activity_file)
    for event_file in unpaired_events:
        alike = waiting.get(files.event_hashes.get(event_file.id, ""), [])
        same = alike.pop(0) if alike else None  # the same bytes attached twice are two files, paired one by one
        if same is not None:
            actions.append(PairFiles(event_file, same))
        elif files.to_erp:
            actions.append(_to_erp(files, event_file, None))
    matched = {a.activity_file.id for a in actions if isinstance(a, PairFiles)}
    for activity_file in unpaired_activities:
        if activity_file.id not in matched and files.to_outlook:
            actions.append(_to_outlook(files, activity_file, None))
    return actions


def _to_erp(files: LinkFiles, event_file: EventAttachment, replaces: AttachmentPair | None) -> FileAction:
    if event_file.size > files.erp_limit:
        return RefuseFile(Side.ERP, event_file.id, event_file.name, event_file.size, files.erp_limit)
    return CopyToErp(event_file, replaces)


def _to_outlook(files: LinkFiles, activity_file: ActivityAttachment, replaces: AttachmentPair | None) -> FileAction:
    if activity_file.size > files.graph_limit:
        return RefuseFile(Side.M365, activity_file.id, activity_file.name, activity_file.size, files.graph_limit)
    return CopyToOutlook(activity_file, replaces)


def paired(event_file: EventAttachment, activity_file: ActivityAttachment) -> AttachmentPair:
    return AttachmentPair(
        event_attachment_id=event_file.id,
        activity_attachment_id=activity_file.id,
        sha256=activity_file.sha256,
        name=activity_file.name,
        size=activity_file.size,
    )


def pending_to_erp(event_file: EventAttachment, sha256: str) -> AttachmentPair:
    """The pair written down before an event file's bytes (hash ``sha256``) go to the ERP (``_completed``)."""
    return AttachmentPair(
        event_attachment_id=event_file.id,
        activity_attachment_id=None,
        sha256=sha256,
        name=event_file.name,
        size=event_file.size,
    )


def pending_to_outlook(activity_file: ActivityAttachment) -> AttachmentPair:
    """The pair written down before an activity file's bytes go to Outlook (``_completed``)."""
    return AttachmentPair(
        event_attachment_id=None,
        activity_attachment_id=activity_file.id,
        sha256=activity_file.sha256,
        name=activity_file.name,
        size=activity_file.size,
    )


def after_files(
    link: Link,
    pairs: Iterable[AttachmentPair],
    *,
    seen_version: int | None,
    versions: Iterable[int],
    now: datetime,
    change_key: str | None = None,
) -> Link:
    """What the link records after its files were synced: the pairs now, and the activity's version after the
    sync's own file writes when they followed each other with nobody else's change between (so the ERP's
    hook for them is an echo, R5); otherwise the version the run read. ``change_key``: the event's after the
    sync's own file writes to it, so Graph's notification of them is an echo too."""
    version = seen_version
    for written in versions:
        if version is None or written != version + 1:
            version = None
            break
        version = written
    recorded = version if version is not None else seen_version
    now_pairs = tuple(sorted(pairs, key=lambda p: (p.activity_attachment_id or "", p.event_attachment_id or "")))
    newer = recorded is not None and (link.erp_version is None or recorded > link.erp_version)
    moved = change_key is not None and change_key != link.m365_change_key
    if now_pairs == link.attachments and not newer and not moved:
        return link
    changes: LinkChanges = {"attachments": now_pairs, "updated_at": now}
    if newer:
        changes["erp_version"] = recorded
    if moved:
        changes["m365_change_key"] = change_key
    return link.evolve(changes)
