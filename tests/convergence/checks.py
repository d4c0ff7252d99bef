"""The machine's checks once every user's sync has caught up (R5, R6, R8, R10, R21, R27).

``quiesce`` runs every user's sync, round after round, until a whole round writes nothing (a bounded number of
rounds: more is a ping-pong). ``check`` then holds the systems against the model:

- exactly one live (not voided) ERP activity per live meeting, none for a cancelled or voided one, and none
  that belongs to no meeting anyone made (R8, R10: no duplicates);
- its owner: the organizer's user for a synced organizer, else an invited synced person who has not
  declined; the tenant-wide claim names that owner and activity (a meeting the owner holds alone, nobody but
  the customer invited, may have none yet), and the owner's event is linked to it;
- each other invited synced person's copy is linked to that one activity as a copy, and their participant
  row answers what their copy answers ("none" = not responded) (R27);
- the contact's row answers what the organizer's event shows for her (R27);
- the owner's event and the activity show equal subject (R21 for ERP-born), location and times, each one
  of the values people gave since the last check (R5, R6);
- a meeting an attendee owns (its organizer is not synced) whose owner declines or is taken off is voided
  (R27) and passes on to another invited synced person; with no live activity, every one of them declined;
- a meeting the close job closed keeps its one activity as closed; Outlook changes since are listed conflicts
  (R7, R29: ``nightly.check_closed``); leave requests are shown as the ERP says (R23, R30: ``checks_leave``).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from shared.core.activities import Activity, ActivityState, ParticipantKind
from shared.core.links import Link, LinkState
from shared.core.meetings import LinkRole, Meeting
from shared.state.model import Issue
from shared.sync.report import RunReport
from tests.convergence.checks_leave import check_leave
from tests.convergence.model import Answers
from tests.convergence.model import Meeting as Expected
from tests.convergence.nightly import check_closed
from tests.convergence.people_leave import Leave
from tests.convergence.statistics import statistic
from tests.convergence.world import BY_USER, EVE, EVE_ID, PEOPLE, SeenEvent, World, activity_when

MAX_ROUNDS = 6
_GRAPH_ANSWER = {"none": "none", "accepted": "accepted", "tentative": "tentativelyAccepted", "declined": "declined"}


def quiesce(world: World, order: Sequence[str], synced: Set[str]) -> int:
    """Sync every user in ``order`` until a whole round writes nothing; the number of rounds that wrote."""
    last: list[RunReport] = []
    for rounds in range(MAX_ROUNDS):
        last = [world.run(world.engine.sync_user(PEOPLE[p].user_id)) for p in order]
        for person, report in zip(order, last, strict=True):
            assert report.status == ("ok" if person in synced else "unsyncable"), report.summary()
        if not any(sum(report.done.values()) for report in last):
            return rounds
    raise AssertionError(f"still writing after {MAX_ROUNDS} rounds (ping-pong?): {[r.summary() for r in last]}")


@dataclass
class Snapshot:
    """Both systems and the state, read once."""

    calendars: dict[str, list[SeenEvent]]  # person key (and "eve") -> events
    activities: list[Activity]
    links: dict[str, list[Link]]
    claims: dict[str, Meeting | None]
    issues: dict[str, list[Issue]]  # person key -> their open issues

    @classmethod
    def take(cls, world: World, meetings: Sequence[Expected]) -> Snapshot:
        async def read() -> Snapshot:
            calendars = {key: await world.calendar(p.mailbox) for key, p in PEOPLE.items()}
            calendars["eve"] = await world.calendar(EVE)
            links = {key: list(await world.state.links_for_user(p.user_id)) for key, p in PEOPLE.items()}
            issues = {key: list(await world.state.open_issues(p.user_id)) for key, p in PEOPLE.items()}
            snapshot = cls(calendars, world.activities(), links, {}, issues)
            for meeting in meetings:
                learn_ical_uid(snapshot, meeting)
                if meeting.ical_uid:
                    snapshot.claims[meeting.ical_uid] = await world.state.get_meeting(meeting.ical_uid)
            return snapshot

        return world.run(read())

    def copy_of(self, person: str, ical_uid: str | None) -> SeenEvent | None:
        """The person's copy of the meeting; a live one before one cancelled earlier (uninvited, re-invited)."""
        found = [e for e in self.calendars[person] if ical_uid and e.ical_uid == ical_uid]
        live = [e for e in found if not e.is_cancelled]
        assert len(live) <= 1, f"{person} holds several live copies of {ical_uid}: {live}"
        return next(iter(live or found), None)

    def link_of(self, person: str, event_id: str) -> Link | None:
        return next((link for link in self.links[person] if link.event_id == event_id), None)


def learn_ical_uid(snapshot: Snapshot, meeting: Expected) -> None:
    """An ERP-born meeting's iCalUId is its owner's event's, once the owner's sync made it."""
    if meeting.ical_uid is None and meeting.activity_id and meeting.organizer:
        made = [e for e in snapshot.calendars[meeting.organizer] if e.stamp == meeting.activity_id]
        if made:
            meeting.ical_uid = made[0].ical_uid


def _owner_event(snapshot: Snapshot, meeting: Expected, owner: str) -> SeenEvent | None:
    """The event whose fields the activity carries: the organizer's, or the owning attendee's copy."""
    if meeting.origin == "erp":
        made = [e for e in snapshot.calendars[owner] if e.stamp == meeting.activity_id]
        assert len(made) <= 1, f"meeting {meeting.number}: several events made for one activity: {made}"
        return made[0] if made else None
    if owner == meeting.organizer:
        return next((e for e in snapshot.calendars[owner] if e.id == meeting.event_id), None)
    return snapshot.copy_of(owner, meeting.ical_uid)


def _grouped(
    snapshot: Snapshot, meetings: Sequence[Expected], series: Set[str] = frozenset()
) -> dict[int, list[Activity]]:
    """Every live activity under the meeting it belongs to; one that belongs to none (nor to a series people
    made, ``series``: ``checks_series``) fails the check."""
    by_id = {m.activity_id: m.number for m in meetings if m.activity_id}
    by_ical = {m.ical_uid: m.number for m in meetings if m.ical_uid}
    out: dict[int, list[Activity]] = {m.number: [] for m in meetings}
    for activity in snapshot.activities:
        if activity.state is ActivityState.VOIDED or activity.id in series:
            continue
        ical = activity.origin.ical_uid if activity.origin else None
        number = by_id.get(activity.id, by_ical.get(ical or ""))
        assert number is not None, f"an activity no meeting explains (R10): {activity!r}"
        out[number].append(activity)
    return out


def check(
    world: World,
    meetings: Sequence[Expected],
    synced: Set[str],
    leaves: Sequence[Leave] = (),
    series: Set[str] = frozenset(),
) -> None:
    """Hold both systems against the model, then settle the model on what they show; ``synced``: the people
    whose syncs run (a person not synced yet organises like Eve: an invited synced person owns it); ``leaves``:
    the leave requests people made (R30, ``checks_leave``); ``series``: the live activities of the series people
    made, checked by ``checks_series`` (R28)."""
    snapshot = Snapshot.take(world, meetings)
    check_leave(snapshot.calendars, snapshot.activities, world.leave_requests(), leaves, synced)
    grouped = _grouped(snapshot, meetings, series)
    for meeting in meetings:
        live = grouped[meeting.number]
        where = f"meeting {meeting.number} ({meeting.origin}, organizer {meeting.organizer or 'Eve'})"
        by_organizer = meeting.origin != "external" and meeting.organizer in synced
        if meeting.closed is not None:  # R29: read-only from the night it was closed (R7)
            owner = BY_USER[live[0].owner_id].key if live else ""
            event = _owner_event(snapshot, meeting, owner) if owner else None
            check_closed(meeting, live, event, snapshot.issues.get(owner, []), where)
            statistic(f"checked: {meeting.origin} meeting closed by the nightly job")
            continue
        if meeting.ended:
            assert not live, f"{where} was cancelled or voided, yet has live activities {live} (R8)"
            statistic(f"checked: {meeting.origin} meeting ended")
            continue
        if meeting.origin == "erp" and not by_organizer:
            assert len(live) == 1, f"{where}: {len(live)} live activities, one expected (R10): {live}"
            statistic("checked: erp meeting waiting for its owner's first sync")
            continue
        if _voided_by_its_owner(snapshot, meeting, where):
            to = "to its organizer " if by_organizer else ""
            statistic(f"checked: meeting passed on {to}after its owning attendee left")
            _organizers_values_also(snapshot, meeting)
        if not live and not by_organizer:
            _check_nobody_owns(snapshot, meeting, where, synced)
            continue
        assert len(live) == 1, f"{where}: {len(live)} live activities, one expected (R10): {live}"
        _check_meeting(snapshot, meeting, live[0], where, synced, by_organizer=by_organizer)
        copies = len(synced & set(meeting.invited)) - (not by_organizer)
        statistic(
            f"checked: {meeting.origin} meeting owned by {'organizer' if by_organizer else 'an attendee'} "
            f"with {copies} linked copies"
        )
        if any(a.settled != "none" for a in meeting.answers.values()):
            statistic(f"checked: {meeting.origin} meeting with answers")


def _organizers_values_also(snapshot: Snapshot, meeting: Expected) -> None:
    """R10: a meeting that passed on is a new activity made from the new owner's copy (or the organizer's own
    event, once the organizer's mailbox is synced and takes it), which shows the organizer's subject, place and
    times; an ERP edit of the voided activity reached only the former owner's copy. Either is acceptable: the
    organizer's values join the expected ones (as if edited in Outlook)."""
    voided = {
        a.id
        for a in snapshot.activities
        if a.state is ActivityState.VOIDED and a.origin is not None and a.origin.ical_uid == meeting.ical_uid
    }
    if voided <= meeting.passed_on_from:
        return  # passed on before the last check: its values were settled then
    meeting.passed_on_from |= voided
    calendar = snapshot.calendars[meeting.organizer or "eve"]
    shown = next((e for e in calendar if e.ical_uid == meeting.ical_uid and not e.is_cancelled), None)
    if shown is None:
        return
    outlook = meeting.fields.edits["m365"]
    outlook.setdefault("subject", shown.subject)
    outlook.setdefault("location", shown.location)
    outlook.setdefault("when", (shown.start, shown.end))


def _voided_by_its_owner(snapshot: Snapshot, meeting: Expected, where: str) -> bool:
    """Whether an activity of this meeting was voided: only its owning attendee's decline or leaving does that
    (R27; a person's void in the ERP ends the meeting in the model already). The meeting then passes on to
    another invited synced person, if any has not declined (a new activity, R10)."""
    voided = [
        a
        for a in snapshot.activities
        if a.state is ActivityState.VOIDED and a.origin is not None and a.origin.ical_uid == meeting.ical_uid
    ]
    for activity in voided:
        owner = BY_USER[activity.owner_id].key
        assert owner in meeting.left, f"{where}: voided though its owner {owner} never declined or left it"
    return bool(voided)


def _check_nobody_owns(snapshot: Snapshot, meeting: Expected, where: str, synced: Set[str]) -> None:
    """A meeting no synced organizer owns and nobody voided, without a live activity: every invited synced
    person declined it, so nobody could own it (R10, R27)."""
    copies = {p: snapshot.copy_of(p, meeting.ical_uid) for p in meeting.invited if p in synced}
    answers = {p: copy.response if copy else "no copy" for p, copy in copies.items()}
    assert all(a == "declined" for a in answers.values()), (
        f"{where}: no activity though not everyone declined (R10: the first synced attendee owns it): "
        f"answers {answers}, claim {snapshot.claims.get(meeting.ical_uid or '')}"
    )
    statistic("checked: meeting everyone declined")


def _check_meeting(
    snapshot: Snapshot, meeting: Expected, activity: Activity, where: str, synced: Set[str], *, by_organizer: bool
) -> None:
    owner = BY_USER[activity.owner_id].key
    if by_organizer:
        assert owner == meeting.organizer, f"{where}: owned by {owner}, not by its organizer (R10)"
    else:
        assert owner in (synced & set(meeting.invited)), f"{where}: owned by {owner}, not an invited synced person"
    event = _owner_event(snapshot, meeting, owner)
    assert event is not None, f"{where}: the owner {owner} has no event for {activity.id}"
    assert not event.is_cancelled, f"{where}: the owner's event is cancelled, yet the activity is live (R8): {event}"
    assert event.response != "declined", f"{where}: the owner declined, yet the activity is live (R27): {event}"
    claim = snapshot.claims.get(event.ical_uid)
    # R10: only a meeting no other synced mailbox can hold (the owner's own, nobody invited but Eve, a customer
    # contact in the ERP) may go unclaimed.
    alone = event.is_organizer and not set(event.attendees) - {PEOPLE[owner].mailbox, EVE}
    assert claim is not None or alone, f"{where}: no claim for {event.ical_uid}, yet others are invited (R10)"
    assert claim is None or (claim.owner_user_id, claim.activity_id) == (activity.owner_id, activity.id), (
        f"{where}: the claim {claim} does not name {owner} and {activity.id} (R10)"
    )
    _check_link(snapshot, owner, event, activity, LinkRole.OWNER, where)
    _check_fields(meeting, event, activity, where)
    if by_organizer:  # its attendees change on both sides (R6: the latest side's list wins)
        invited = frozenset(p for p in PEOPLE if p != owner and PEOPLE[p].mailbox in event.attendees)
        acceptable = meeting.acceptable_invitees()
        assert invited in acceptable, f"{where}: invited {sorted(invited)}, expected one of {acceptable}"
        meeting.settle_invitees(invited)
    for person in meeting.invited:
        if person not in synced:
            continue
        copy = event if person == owner else snapshot.copy_of(person, event.ical_uid)
        assert copy is not None, f"{where}: {person} has no copy"
        assert not copy.is_cancelled, f"{where}: {person}'s copy is cancelled: {copy}"
        if person != owner:
            _check_link(snapshot, person, copy, activity, LinkRole.COPY, where)
        row = _row(activity, ParticipantKind.USER, PEOPLE[person].user_id)
        assert row == copy.response, (
            f"{where}: {person}'s row answers {row}, their copy {copy.response} (R27); participants "
            f"{[(p.email, p.response.value) for p in activity.participants]}"
        )
        answers = meeting.answers.setdefault(person, Answers())
        assert row in answers.acceptable(), f"{where}: {person} answers {row}, expected one of {answers}"
        answers.settle(row)
    for person in sorted(set(PEOPLE) - set(meeting.invited) - {owner, meeting.organizer}):
        row = _row(activity, ParticipantKind.USER, PEOPLE[person].user_id)
        assert row is None, f"{where}: {person} is not invited (any more), yet has a row answering {row}"
    if meeting.contact and by_organizer:  # an attendee's copy does not follow others' answers
        organizers = event.attendees.get(EVE, "none")
        row = _row(activity, ParticipantKind.CONTACT, EVE_ID)
        assert row == organizers, f"{where}: Eve's row answers {row}, the organizer's event {organizers} (R27)"


def _check_link(
    snapshot: Snapshot, person: str, event: SeenEvent, activity: Activity, role: LinkRole, where: str
) -> None:
    link = snapshot.link_of(person, event.id)
    assert link is not None, f"{where}: {person}'s event {event.id} is not linked (R10)"
    assert link.activity_id == activity.id, f"{where}: {person}'s link points elsewhere (R10): {link}"
    assert link.state is LinkState.ACTIVE, f"{where}: {person}'s link is {link.state.value}: {link}"
    assert link.role is role, f"{where}: {person}'s link is an {link.role.value}'s, not an {role.value}'s: {link}"


def _check_fields(meeting: Expected, event: SeenEvent, activity: Activity, where: str) -> None:
    expected = meeting.fields.expected()
    when = activity_when(activity)
    assert activity.subject in expected.subjects, (where, activity.subject, expected)
    assert any(m.matches(event.subject) for m in expected.event_subjects), (where, event.subject, expected)
    if meeting.origin != "erp":
        assert event.subject == activity.subject, (where, event, activity)
    assert event.location == activity.location, (where, event, activity)
    assert activity.location in expected.locations, (where, activity.location, expected)
    assert (event.start, event.end) == when, (where, event, activity)
    assert when in expected.whens, (where, when, expected)
    meeting.fields.settle(subject=activity.subject, event_subject=event.subject, location=activity.location, when=when)


def _row(activity: Activity, kind: ParticipantKind, ref_id: str) -> str | None:
    """The answer (Graph's words) of the participant row for ``ref_id``; None when there is none."""
    rows = [p for p in activity.participants if p.kind is kind and p.ref_id == ref_id]
    return _GRAPH_ANSWER.get(rows[0].response.value, rows[0].response.value) if rows else None
