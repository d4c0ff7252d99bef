"""Meetings across mailboxes (R10, R27): which copy owns a new meeting, and what the other copies sync.

The rule (see ``shared.core.meetings``): the organizer's mailbox owns a meeting when the organizer is a
synced user; otherwise the first synced attendee to claim it. Every other synced copy is linked as a
copy: only its person's answer flows, both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from shared.core.actions import (
    Action,
    AnswerInErp,
    AnswerInOutlook,
    LinkCopy,
    Relink,
    RetireCopy,
    Skip,
    TakeOver,
    Wait,
)
from shared.core.activities import Activity, ActivityChange
from shared.core.guards import why_not_create_activity
from shared.core.items import Side
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry, M365Event
from shared.core.meetings import ANSWERS, Meeting, answer, participant_answer
from shared.core.plan_create import create_activity
from shared.core.run import RunInput, Ways, erp_gone


def new_meeting_event(run: RunInput, event: M365Event, ways: Ways) -> Action | None:
    """For an unlinked event with an iCalUId: link it as a copy, take the meeting over, wait for its owner,
    or skip it; None when this mailbox is the one to create the activity (the caller plans the create)."""
    assert event.ical_uid is not None
    meeting = run.meetings.get(event.ical_uid)
    if meeting is not None:
        if meeting.owner_user_id == run.user_id:
            if meeting.activity_id:  # R10: created, but the link was never saved (crash)
                return Relink(event_id=event.id, activity_id=meeting.activity_id, origin=Side.M365)
            return None  # our own claim of an earlier run: the create resumes (same idempotency key)
        if event.is_cancelled:
            return Skip(side=Side.M365, record_id=event.id, reason="cancelled copy of a meeting")
        return after_lost_claim(event, meeting)
    organizer = (event.organizer_email or "").lower()
    if not event.is_organizer and organizer and organizer in run.synced_mailboxes:
        reason = why_not_create_activity(run.policy, event, to_erp=ways.to_erp, own_answer_counts=False)
        if reason:
            return Skip(side=Side.M365, record_id=event.id, reason=reason)
        return Wait(event=event, reason="the organizer's mailbox syncs this meeting first (R10)")
    return None


def joins_a_new_meeting(run: RunInput, event: M365Event, link: Link) -> Action | None:
    """R10: a copy whose link ended (its owner declined, say) while the organizer's mailbox started the meeting
    afresh: the copy joins the new activity as a copy."""
    meeting = run.meetings.get(event.ical_uid or "")
    if (
        meeting is None
        or event.is_cancelled
        or meeting.owner_user_id == run.user_id
        or meeting.activity_id in (None, link.activity_id)
    ):
        return None
    return LinkCopy(event=event, meeting=meeting)


def after_ended_link(run: RunInput, event: M365Event, link: Link) -> Iterator[Action]:
    """R10/R27: an event whose link ended changed. It joins the meeting's new activity when another mailbox
    started one; when the meeting's owning attendee left it (its claim ended) and nobody took it yet, this
    person takes it, unless they declined it or it was cancelled. A claim still naming the old activity
    means a person voided it in the ERP: that stays (R8)."""
    joined = joins_a_new_meeting(run, event, link)
    if joined is not None:
        yield joined
        return
    if (
        link.state is LinkState.RETIRED
        and event.ical_uid
        and event.ical_uid not in run.meetings
        and not event.is_organizer
        and not event.is_cancelled
        and answer(event.response) != "declined"
    ):
        ways = Ways.of(run)
        decided = new_meeting_event(run, event, ways)
        yield from [decided] if decided is not None else create_activity(run.policy, event, ways)
        return
    yield Skip(side=Side.M365, record_id=event.id, reason=f"link is {link.state.value}")


def after_lost_claim(event: M365Event, meeting: Meeting) -> Action:
    """Another mailbox holds the claim on this meeting: wait for its activity, take it over when this is the
    organizer's copy, or link this copy to it."""
    if meeting.activity_id is None:
        return Wait(event=event, reason="the meeting's owner mailbox is creating its activity (R10)")
    if event.is_organizer:
        return TakeOver(event=event, meeting=meeting)
    return LinkCopy(event=event, meeting=meeting)


def copy_changed(run: RunInput, entry: DeltaEntry, link: Link, change: ActivityChange | None) -> Iterator[Action]:
    """A copy link saw its event (and maybe its activity) change: only the person's answer flows (R27)."""
    if link.state is not LinkState.ACTIVE:
        if entry.event is not None:
            yield from after_ended_link(run, entry.event, link)
        return
    event = entry.event
    if event is None:
        # The person deleted their copy (Outlook declines what it deletes; Exchange may also remove a
        # declined copy): their row says declined, and the copy stops syncing.
        if link.response != "declined" and change is None:
            yield AnswerInErp(link=link, response="declined")
        yield RetireCopy(link=link, reason="the copy was removed from the mailbox")
        return
    if event.is_cancelled:
        yield RetireCopy(link=link, reason="the meeting was cancelled or the person removed from it")
        return
    if change is not None and (erp_gone(change) or change.activity is None):
        yield from _answer_given_before_the_end(run, link, change, answer(event.response))
        yield from copy_of_ended_activity(run, event, link)
        return
    if change is not None:
        yield from both_answers(run, link, event, change)
        return
    mine = answer(event.response)
    if mine != (link.response or "none") and mine in ANSWERS:
        yield AnswerInErp(link=link, response=mine)


def copy_of_ended_activity(run: RunInput, event: M365Event, link: Link) -> Iterator[Action]:
    """R10/R8/R27: the activity of a live copy was voided or removed. The claim tells why. Still naming that
    activity: a person voided it in the ERP, which is final (R8). Naming another one: the meeting passed on
    and the copy joins it. Gone: its owning attendee left (declined, or was taken off), so the meeting passes
    on: this copy's person owns it now, unless they declined it too (then a later owner's activity is joined
    when it appears in their feed)."""
    yield RetireCopy(link=link, reason="the activity was voided or removed")
    meeting = run.meetings.get(event.ical_uid or "")
    if meeting is not None:
        if meeting.activity_id != link.activity_id or meeting.activity_id is None:
            yield after_lost_claim(event, meeting)
        return
    if answer(event.response) == "declined":
        return
    ways = Ways.of(run)
    decided = new_meeting_event(run, event, ways)
    yield from [decided] if decided is not None else create_activity(run.policy, event, ways)


def copy_activity_changed(run: RunInput, change: ActivityChange, link: Link) -> Iterator[Action]:
    """The activity of a copy changed in the ERP: the person's answer set there reaches their copy (R27)."""
    if link.state is not LinkState.ACTIVE:
        return
    if erp_gone(change) or change.activity is None:
        yield from _answer_given_before_the_end(run, link, change, link.response or "none")
        yield RetireCopy(link=link, reason="the activity was voided or removed")
        return
    theirs = participant_answer(change.activity, run.user_id, run.mailbox)
    if theirs is not None and theirs != (link.response or "none") and theirs in ANSWERS:
        yield AnswerInOutlook(link=link, response=theirs)
    elif theirs == "none" and link.response in ANSWERS:
        # The ERP made the person's row again (without an answer): their copy's answer fills it (R27).
        yield AnswerInErp(link=link, response=link.response)


def both_answers(run: RunInput, link: Link, event: M365Event, change: ActivityChange) -> Iterator[Action]:
    """Both sides of a copy changed: an answer changed on one side flows; on both, the latest wins (R6)."""
    activity = change.activity
    if erp_gone(change) or activity is None:
        yield RetireCopy(link=link, reason="the activity was voided or removed")
        return
    synced = link.response or "none"
    mine = answer(event.response)
    theirs = participant_answer(activity, run.user_id, run.mailbox) or "none"
    m365_moved = mine != synced and mine in ANSWERS
    erp_moved = theirs != synced and theirs in ANSWERS
    if m365_moved and (not erp_moved or _outlook_is_latest(run, event, activity)):
        yield AnswerInErp(link=link, response=mine)  # writes nothing when the ERP says the same already
    elif erp_moved and theirs != mine:
        yield AnswerInOutlook(link=link, response=theirs)


def _outlook_is_latest(run: RunInput, event: M365Event, activity: Activity) -> bool:
    if event.last_modified is None:
        return False
    return event.last_modified >= activity.modified_at - timedelta(seconds=run.policy.clock_skew_seconds)


def _answer_given_before_the_end(run: RunInput, link: Link, change: ActivityChange, mine: str) -> Iterator[Action]:
    """R27: an answer set in the ERP for this person on an activity that was then voided (its meeting passing on
    when its owning attendee was taken off) is still the person's answer: it is given on their copy, so the
    meeting's next activity takes it from there (``LinkCopy``) instead of losing it."""
    if change.activity is None:
        return
    theirs = participant_answer(change.activity, run.user_id, run.mailbox)
    if theirs is not None and theirs in ANSWERS and theirs not in (link.response or "none", mine):
        yield AnswerInOutlook(link=link, response=theirs)
