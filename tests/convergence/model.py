"""What the people expect to see once the sync has caught up: one expected pair per meeting.

People's edits since the last clean sync are kept per side. At a clean sync each field's outcome is
decided: an edit on one side wins (R5); edits of the same field on both sides leave either side's last
value (R6: latest wins, ties within the clock skew go to M365, so the test accepts both). The subject of an
ERP-born meeting never flows back from Outlook (R21): the ERP keeps its own, the event keeps the typed
title until the ERP subject changes. A delete on either side removes the pair (R8). After the check the
model takes the values seen, so each step starts exact again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Side = Literal["m365", "erp"]
_TITLE = re.compile(r"^Meeting: (?P<subject>.*?)(?: – .*)?$")


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


@dataclass
class Pair:
    """One meeting as the people expect it on both sides."""

    key: str  # "E:<event id>" for Outlook-born, "A:<activity id>" for ERP-born
    origin: Side
    subject: str
    location: str
    start: datetime
    end: datetime
    event_subject: Title | Typed | None = None  # ERP-born only; None until first seen
    alive: bool = True
    edits: dict[Side, dict[str, object]] = field(default_factory=lambda: {"m365": {}, "erp": {}})

    def edit(self, side: Side, **values: object) -> None:
        self.edits[side].update(values)

    def expected(self, *, faulted: bool) -> Expectation:
        """The acceptable outcomes after a clean sync, given the edits since the last one."""
        outlook, erp = self.edits["m365"], self.edits["erp"]

        def either(name: str, current: object) -> set[object]:
            values = set()
            if name in outlook:
                values.add(outlook[name])
            if name in erp:
                values.add(erp[name])
            return values or {current}

        when = outlook.get("when", (self.start, self.end))
        if self.origin == "m365":
            subjects = either("subject", self.subject)
            return Expectation(
                subjects=subjects,
                event_subjects=[Typed(str(s)) for s in subjects],
                locations={str(v) for v in either("location", self.location)},
                when=when,  # type: ignore[arg-type]
            )
        erp_subject = str(erp.get("subject", self.subject))
        event_subjects: list[Title | Typed]
        if "subject" in erp:
            # R21: the ERP's new subject retitles the event; a failed run may have done so before a later
            # Outlook edit, which then stays.
            event_subjects = [Title(erp_subject)]
            if faulted and "subject" in outlook:
                event_subjects.append(Typed(str(outlook["subject"])))
        elif "subject" in outlook:
            event_subjects = [Typed(str(outlook["subject"]))]
        else:
            event_subjects = [self.event_subject or Title(erp_subject)]
        return Expectation(
            subjects={erp_subject},
            event_subjects=event_subjects,
            locations={str(v) for v in either("location", self.location)},
            when=when,  # type: ignore[arg-type]
        )

    def settle(self, *, subject: str, event_subject: str, location: str) -> None:
        """Take what a clean sync left on both sides as the new starting point."""
        self.subject, self.location = subject, location
        self.start, self.end = self.edits["m365"].get("when", (self.start, self.end))  # type: ignore[misc]
        self.event_subject = Typed(event_subject) if self.origin == "erp" else None
        self.edits = {"m365": {}, "erp": {}}


@dataclass(frozen=True)
class Expectation:
    subjects: set[object]
    event_subjects: list[Title | Typed]
    locations: set[str]
    when: tuple[datetime, datetime]
