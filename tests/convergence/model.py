"""What the people expect to see once every sync has caught up: one expected meeting per meeting anyone made.

People's edits since the last check are kept per side. At a check each field's outcome is decided: an edit
on one side wins (R5); edits of the same field on both sides leave either side's last value (R6: latest
wins, ties within the clock skew go to M365, so the test accepts both). The subject of an ERP-born meeting
never flows back from Outlook (R21): the ERP keeps its own, the event keeps the typed title until the ERP
subject changes. A cancel or a void ends the meeting (R8). Answers are kept per synced attendee the same
way: any answer given since the last check, in Outlook or in the ERP, may be the one both sides show (R27).
After a check the model takes the values seen, so each step starts exact again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Side = Literal["m365", "erp"]
# Who made the meeting: a synced person in Outlook, a person in the ERP, or the external contact (Eve).
Origin = Literal["m365", "erp", "external"]
ANSWERS = ("accepted", "tentativelyAccepted", "declined")
TO_ERP = {"accepted": "accepted", "tentativelyAccepted": "tentative", "declined": "declined"}


def is_meeting_title(title: str, subject: str) -> bool:
    """R21: an ERP-born meeting is titled "Meeting: <subject>", with " – <company>" when it has one."""
    return title == f"Meeting: {subject}" or title.startswith(f"Meeting: {subject} – ")


@dataclass(frozen=True)
class Title:
    """The event shows the R21 title of this ERP subject."""

    subject: str

    def matches(self, shown: str) -> bool:
        return is_meeting_title(shown, self.subject)


@dataclass(frozen=True)
class Typed:
    """The event shows exactly this text (typed in Outlook, or seen at the last check)."""

    text: str

    def matches(self, shown: str) -> bool:
        return shown == self.text


@dataclass(frozen=True)
class Expectation:
    subjects: set[object]
    event_subjects: list[Title | Typed]
    locations: set[str]
    whens: set[tuple[datetime, datetime]]


@dataclass
class Fields:
    """A meeting's subject, location and times as the owner's event and the activity should show them."""

    erp_born: bool
    subject: str
    location: str
    start: datetime
    end: datetime
    event_subject: Title | Typed | None = None  # ERP-born only; None until first seen
    edits: dict[Side, dict[str, object]] = field(default_factory=lambda: {"m365": {}, "erp": {}})

    def edit(self, side: Side, **values: object) -> None:
        self.edits[side].update(values)

    def expected(self) -> Expectation:
        """The acceptable outcomes after the syncs caught up, given the edits since the last check."""
        outlook, erp = self.edits["m365"], self.edits["erp"]

        def either(name: str, current: object) -> set[object]:
            values = {side[name] for side in (outlook, erp) if name in side}
            return values or {current}

        whens = either("when", (self.start, self.end))
        locations = {str(v) for v in either("location", self.location)}
        if not self.erp_born:
            subjects = either("subject", self.subject)
            return Expectation(subjects, [Typed(str(s)) for s in subjects], locations, whens)  # type: ignore[arg-type]
        erp_subject = str(erp.get("subject", self.subject))
        event_subjects: list[Title | Typed]
        if "subject" in erp:
            # R21: the ERP's new subject retitles the event; a run may have done so before a later Outlook
            # edit, which then stays.
            event_subjects = [Title(erp_subject)]
            if "subject" in outlook:
                event_subjects.append(Typed(str(outlook["subject"])))
        elif "subject" in outlook:
            event_subjects = [Typed(str(outlook["subject"]))]
        else:
            event_subjects = [self.event_subject or Title(erp_subject)]
        return Expectation({erp_subject}, event_subjects, locations, whens)  # type: ignore[arg-type]

    def settle(self, *, subject: str, event_subject: str, location: str, when: tuple[datetime, datetime]) -> None:
        """Take what the caught-up syncs left on both sides as the new starting point."""
        self.subject, self.location, (self.start, self.end) = subject, location, when
        self.event_subject = Typed(event_subject) if self.erp_born else None
        self.edits = {"m365": {}, "erp": {}}


@dataclass(frozen=True)
class Closed:
    """R29: the close job closed the meeting's activity, which showed these fields then; it is read-only from
    there on, so they stay (R7)."""

    activity_id: str
    subject: str
    location: str
    when: tuple[datetime, datetime]


@dataclass
class Answers:
    """One synced attendee's answer: as last checked, and every answer given since (either side); ``also``: the
    answers a person invited again may get back from their earlier invitation."""

    settled: str = "none"
    given: list[str] = field(default_factory=list)
    also: set[str] = field(default_factory=set)

    def acceptable(self) -> set[str]:
        return (set(self.given) or {self.settled}) | self.also

    def settle(self, value: str) -> None:
        self.settled, self.given, self.also = value, [], set()

    def again(self) -> Answers:
        """The answers of this person invited again: none yet, or what they answered before."""
        return Answers(also={*self.acceptable(), *self.given})


@dataclass
class Meeting:
    """One meeting as the people expect it: in every invited synced mailbox, and as ONE activity (R10)."""

    number: int  # creation order: picks go by it, so a replay picks the same meeting
    origin: Origin
    organizer: str | None  # the synced person organising it (Outlook) or owning it (ERP); None: Eve
    invited: tuple[str, ...]  # synced people invited, the organizer left out
    contact: bool  # Eve invited (meetings of synced organizers)
    fields: Fields
    event_id: str | None = None  # the organizer's event (Outlook-born and Eve's)
    activity_id: str | None = None  # the ERP-born activity
    ical_uid: str | None = None  # ERP-born: learned once the owner's event exists
    ended: bool = False  # cancelled by its organizer or voided in the ERP: no live activity (R8)
    answers: dict[str, Answers] = field(default_factory=dict)
    left: set[str] = field(default_factory=set)  # synced people who declined it or were uninvited at some point
    former: dict[str, Answers] = field(default_factory=dict)  # the answers of people taken off it
    # Who each side showed invited after its last attendee change since the check (R6: the latest side wins).
    invites: dict[Side, frozenset[str]] = field(default_factory=dict)
    closed: Closed | None = None  # R29: closed by the nightly job
    passed_on_from: set[str] = field(default_factory=set)  # R10: activities voided when its owner left, seen

    def __post_init__(self) -> None:
        for person in self.invited:
            self.answers.setdefault(person, Answers())

    @property
    def live(self) -> bool:
        """Not over: neither cancelled by its organizer nor voided by a person in the ERP."""
        return not self.ended

    def answer(self, person: str, value: str) -> None:
        self.answers.setdefault(person, Answers()).given.append(value)
        if value == "declined":
            self.left.add(person)

    def invite(self, person: str, side: Side, shown: frozenset[str]) -> None:
        """``person`` invited on ``side``, which now shows ``shown`` invited."""
        if person not in self.invited:
            self.invited = (*self.invited, person)
        self.answers[person] = self._again(person)
        self.invites[side] = shown

    def uninvite(self, person: str, side: Side, shown: frozenset[str]) -> None:
        self.invited = tuple(p for p in self.invited if p != person)
        if person in self.answers:
            self.former[person] = self.answers.pop(person)
        self.left.add(person)
        self.invites[side] = shown

    def _again(self, person: str) -> Answers:
        before = self.answers.get(person) or self.former.get(person)
        return before.again() if before else Answers()

    def acceptable_invitees(self) -> set[frozenset[str]]:
        return set(self.invites.values()) or {frozenset(self.invited)}

    def settle_invitees(self, invited: frozenset[str]) -> None:
        """Take who the caught-up syncs left invited as the new starting point."""
        for person in set(self.invited) - invited:
            self.uninvite(person, "m365", invited)
        self.invited = tuple(sorted(invited))
        self.answers = {p: self.answers.get(p) or self._again(p) for p in self.invited}
        self.invites = {}
