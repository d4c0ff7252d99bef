"""What a link (and a meeting claim) records after each action: pure functions of what the write returned.

The engine calls one of these after every write and stores the result; nothing else decides what a link
says. Fingerprints record what each side shows right after the write, so the next run tells a person's
change from our own echo (R5).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.core.activities import Activity
from shared.core.fingerprint import fingerprint
from shared.core.items import CalendarItem, Field, ItemKind, Side
from shared.core.links import Fingerprint, Link, LinkChanges, LinkState
from shared.core.m365 import M365Event
from shared.core.mapping import item_from_activity, item_from_event
from shared.core.meetings import ANSWERS, LinkRole, Meeting, answer, participant_answer
from shared.core.policy import SyncPolicy


def m365_fingerprint(event: M365Event, kind: ItemKind, policy: SyncPolicy) -> Fingerprint:
    """The event's fingerprints; the sync's own conflict marker is not a user category (R7)."""
    return fingerprint(item_from_event(event, kind=kind, conflict_category=policy.conflict_category))


def erp_fingerprint(activity: Activity) -> Fingerprint:
    return fingerprint(item_from_activity(activity))


def paired(
    *,
    user_id: str,
    link_id: str,
    origin: Side,
    event: M365Event,
    activity: Activity,
    policy: SyncPolicy,
    now: datetime,
    m365_fields: Fingerprint | None = None,
    erp_fields: Fingerprint | None = None,
    claimed: bool = True,
) -> Link:
    """A new owner's link of ``event`` and ``activity`` as each side shows them now (create, relink);
    ``claimed`` False for a meeting no other mailbox can hold yet, so not claimed (R10, ``meetings.shared``)."""
    kind = ItemKind(activity.type.value)
    return Link(
        user_id=user_id,
        link_id=link_id,
        kind=kind,
        origin=origin,
        role=LinkRole.OWNER,
        event_id=event.id,
        ical_uid=event.ical_uid,
        activity_id=activity.id,
        m365_fields=m365_fields if m365_fields is not None else m365_fingerprint(event, kind, policy),
        erp_fields=erp_fields if erp_fields is not None else erp_fingerprint(activity),
        m365_change_key=event.change_key,
        erp_version=activity.version,
        m365_modified_at=event.last_modified,
        erp_modified_at=activity.modified_at,
        response=answer(event.response),
        updated_at=now,
        series_master_id=event.series_master_id,  # R28: an occurrence's link names its series and position
        original_start=event.original_start,
        claimed=claimed,
    )


def relinked(
    *,
    user_id: str,
    link_id: str,
    origin: Side,
    event: M365Event,
    activity: Activity,
    policy: SyncPolicy,
    now: datetime,
    source_change_key: str | None = None,
) -> Link:
    """R10: a pair found again after a crash. Fields on which both records agree are synced. Where they differ,
    the side that changed since the activity was made from the event is the one whose field flows (R6): only
    the event's when the activity is as it was made (version 1); only the ERP's when the event still has the
    change key it had then (``source_change_key``, kept on the meeting's claim). Otherwise (or for an event
    made from an activity) the field counts as changed on both sides, so the merge takes the newer record's."""
    kind = ItemKind(activity.type.value)
    m365_now, erp_now = m365_fingerprint(event, kind, policy), erp_fingerprint(activity)
    agreed = {field: digest for field, digest in m365_now.items() if erp_now.get(field) == digest}
    m365_base: Fingerprint = agreed
    erp_base: Fingerprint = dict(agreed)
    if origin is Side.M365:
        activity_edited = activity.version > 1  # any ERP write after the create raised it
        event_edited = source_change_key is None or event.change_key != source_change_key
        if activity_edited and not event_edited:
            m365_base = m365_now  # only the ERP changed since the create: its fields flow to the event
        elif event_edited and not activity_edited:
            erp_base = dict(erp_now)  # only the event changed: its fields flow to the activity
    return paired(
        user_id=user_id,
        link_id=link_id,
        origin=origin,
        event=event,
        activity=activity,
        policy=policy,
        now=now,
        m365_fields=m365_base,
        erp_fields=erp_base,
    )


def succeeding(
    former: Link | None,
    *,
    user_id: str,
    link_id: str,
    origin: Side,
    event: M365Event,
    activity: Activity,
    policy: SyncPolicy,
    now: datetime,
) -> Link:
    """R10: the organizer's link, taking over from the former owner's. What the former owner's copy last synced
    (the same meeting) is the baseline, so only real changes on either side since then flow. A field of the
    organizer's event that differs from that baseline though the event is older than the former owner's last
    sync was never the organizer's edit: the sync wrote the ERP's value to the former owner's copy only, so
    the ERP's value flows to the organizer's event (R6). Without a former link, the pair is merged as after a
    relink."""
    if former is None:
        return relinked(
            user_id=user_id, link_id=link_id, origin=origin, event=event, activity=activity, policy=policy, now=now
        )
    kind = ItemKind(activity.type.value)
    m365_now, erp_now = m365_fingerprint(event, kind, policy), erp_fingerprint(activity)
    m365_base, erp_base = dict(former.m365_fields), dict(former.erp_fields)
    stale = (
        event.last_modified is not None and former.updated_at is not None and event.last_modified <= former.updated_at
    )
    for field, digest in m365_now.items():
        if stale and digest != m365_base.get(field) and digest != erp_now.get(field):
            m365_base[field] = digest  # not changed in Outlook since ...
            erp_base[field] = digest  # ... so the ERP's value is the change that flows
    return paired(
        user_id=user_id,
        link_id=link_id,
        origin=origin,
        event=event,
        activity=activity,
        policy=policy,
        now=now,
        m365_fields=m365_base,
        erp_fields=erp_base,
    )


def orphan(*, user_id: str, link_id: str, activity: Activity, origin: Side, now: datetime) -> Link:
    """A link for an activity whose event is gone (a crash fell between its create and its link), so the
    activity can be voided and the pair remembered as a tombstone (R8, R10)."""
    return Link(
        user_id=user_id,
        link_id=link_id,
        kind=ItemKind(activity.type.value),
        origin=origin,
        activity_id=activity.id,
        erp_version=activity.version,
        updated_at=now,
    )


def copied(*, user_id: str, link_id: str, event: M365Event, activity: Activity, response: str, now: datetime) -> Link:
    """A copy's link (R10): which event and activity, and the answer both sides now agree on (R27)."""
    return Link(
        user_id=user_id,
        link_id=link_id,
        kind=ItemKind(activity.type.value),
        origin=Side.M365 if activity.origin is not None else Side.ERP,
        role=LinkRole.COPY,
        event_id=event.id,
        ical_uid=event.ical_uid,
        activity_id=activity.id,
        m365_change_key=event.change_key,
        erp_version=activity.version,
        response=response,
        updated_at=now,
    )


def after_activity_update(
    link: Link, *, event: M365Event, item: CalendarItem, fields: Iterable[Field], updated: Activity, now: datetime
) -> Link:
    """The ERP took ``fields`` of the event: only the written fields count as synced on the ERP side, so an
    ERP edit that slipped in meanwhile still flows."""
    erp_now = erp_fingerprint(updated)
    return link.evolve(
        {
            "m365_fields": fingerprint(item),
            "erp_fields": {**link.erp_fields, **{f: erp_now[f] for f in fields}},
            "m365_change_key": event.change_key,
            "m365_modified_at": event.last_modified,
            "erp_version": updated.version,
            "erp_modified_at": updated.modified_at,
            "updated_at": now,
        }
    )


def after_event_update(
    link: Link,
    *,
    item: CalendarItem,
    fields: Iterable[Field],
    activity: Activity,
    written: M365Event,
    policy: SyncPolicy,
    now: datetime,
) -> Link:
    """The event took ``fields`` of the activity. In a two-sided merge the ERP was written just before: its
    newer fingerprints and version are on the link already, and ``activity`` is the older read."""
    chosen = frozenset(fields)
    m365_now = m365_fingerprint(written, link.kind, policy)
    erp_read = fingerprint(item)
    newer_erp = link.erp_version is not None and link.erp_version > activity.version
    return link.evolve(
        {
            "erp_fields": {**link.erp_fields, **{f: erp_read[f] for f in chosen}},
            "m365_fields": {**link.m365_fields, **{f: m365_now[f] for f in chosen}},
            "m365_change_key": written.change_key,
            "m365_modified_at": written.last_modified,
            "erp_version": link.erp_version if newer_erp else activity.version,
            "erp_modified_at": link.erp_modified_at if newer_erp else activity.modified_at,
            "updated_at": now,
        }
    )


def in_place_of(new: Link, earlier: Link) -> Link:
    """``new`` stored in the place of an ``earlier`` link that is no longer active for the same records (a
    person invited again after being taken off, an event made again): one link per pair, never two."""
    return new.model_copy(update={"link_id": earlier.link_id, "etag": earlier.etag})


def remembered(
    link: Link, *, event: M365Event | None, activity: Activity | None, policy: SyncPolicy, now: datetime
) -> Link:
    """Nothing written: what each side shows now becomes what was synced."""
    changes: LinkChanges = {"updated_at": now}
    if event is not None:
        changes["m365_fields"] = m365_fingerprint(event, link.kind, policy)
        changes["m365_change_key"] = event.change_key
    if activity is not None:
        changes["erp_fields"] = erp_fingerprint(activity)
        changes["erp_version"] = activity.version
    return link.evolve(changes)


def after_conflict(link: Link, *, event: M365Event, policy: SyncPolicy, now: datetime) -> Link:
    """R7: the M365 version sits in the conflict record; remember it so it is not offered again every run."""
    return link.evolve({"m365_fields": m365_fingerprint(event, link.kind, policy), "updated_at": now})


def answered(link: Link, *, response: str, erp_version: int | None, now: datetime) -> Link:
    """R27: both sides now hold ``response`` for this person."""
    return link.evolve({"response": response, "erp_version": erp_version or link.erp_version, "updated_at": now})


def retired(link: Link, *, now: datetime) -> Link:
    return link.evolve({"state": LinkState.RETIRED, "updated_at": now})


def detached(link: Link, *, now: datetime) -> Link:
    return link.evolve({"state": LinkState.DETACHED, "updated_at": now})


def demoted(link: Link, *, activity: Activity, mailbox: str, now: datetime) -> Link:
    """R10: the owner's link becomes a copy's; the answer the ERP holds for the person is the synced one."""
    return link.evolve(
        {
            "role": LinkRole.COPY,
            # The answer this person's copy last synced wins over the activity's older view of it (R27).
            "response": link.response
            if link.response in ANSWERS
            else participant_answer(activity, link.user_id, mailbox) or "none",
            "erp_version": activity.version,
            "updated_at": now,
        }
    )


# --- meeting claims (R10) --------------------------------------------------------------------------


def claim(
    *,
    ical_uid: str,
    user_id: str,
    mailbox: str,
    activity_id: str | None,
    now: datetime,
    source_change_key: str | None = None,
) -> Meeting:
    """This mailbox's claim on a meeting (insert-if-absent decides who owns it); ``source_change_key``: the
    change key of the event its activity is about to be made from."""
    return Meeting(
        ical_uid=ical_uid,
        owner_user_id=user_id,
        owner_mailbox=mailbox.lower(),
        activity_id=activity_id,
        source_change_key=source_change_key,
        updated_at=now,
    )


def claim_recorded(link: Link, *, now: datetime) -> Link:
    """R10: the owner's meeting gained attendees and is claimed now."""
    return link.evolve({"claimed": True, "updated_at": now})


def claimed_with(meeting: Meeting, *, activity_id: str, now: datetime) -> Meeting:
    """The claim once its activity exists."""
    return meeting.evolve({"activity_id": activity_id, "updated_at": now})


def taken_over(meeting: Meeting, *, user_id: str, mailbox: str, now: datetime) -> Meeting:
    """R10: the organizer's mailbox owns the meeting from now on."""
    return meeting.evolve({"owner_user_id": user_id, "owner_mailbox": mailbox.lower(), "updated_at": now})
