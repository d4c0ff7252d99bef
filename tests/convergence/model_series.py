"""What people expect of the recurring series they made (R28), once every sync has caught up.

A series is kept like a meeting's fields (``model.Fields``): what the last check saw, and each side's last edit
since. Its shape (first start, first end, number of occurrences) and its subject take either side's edit (R6:
latest wins, ties go to Outlook; the test accepts both). Each occurrence, named by its original start (UTC), is
``PLAIN`` (where the pattern puts it), ``CANCELLED`` or moved to ``(start, end)``; an occurrence edited since the
check shows either side's last edit. A change of the series' times or pattern resets its exceptions (Graph does,
and R28 gives the ERP Outlook's reset list), so after one the occurrences are only held side against side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Side = Literal["m365", "erp"]
PLAIN, CANCELLED = "plain", "cancelled"
Outcome = str | tuple[datetime, datetime]  # PLAIN, CANCELLED, or moved to (start, end) in UTC
Shape = tuple[datetime, datetime, int]  # the first occurrence's start and end (UTC), how many occurrences
ZONE = "Europe/Oslo"  # series repeat in a zone with DST, so wall clock and UTC differ (R12)


def outcome(original: datetime, length: timedelta, start: datetime, end: datetime) -> Outcome:
    """An occurrence at ``start``..``end`` as an outcome: PLAIN where its pattern puts it."""
    return PLAIN if (start, end) == (original, original + length) else (start, end)


@dataclass
class Series:
    """One recurring series a person made: in Outlook (its master) or in the ERP (its activity)."""

    number: int  # creation order: picks go by it, so a replay picks the same series
    origin: Literal["m365", "erp"]
    owner: str  # the synced person whose calendar holds it (organizer, or the activity's owner)
    daily: bool  # daily, else weekly
    subject: str
    shape: Shape
    master_id: str | None = None  # Outlook-born: the owner's master
    activity_id: str | None = None  # ERP-born: the series activity
    ended: bool = False  # deleted in Outlook or voided in the ERP (R8)
    # Checked since it was made and since its last change of times or pattern in Outlook: an occurrence
    # cancelled in Outlook before then is not seen as cancelled (R28, "not yet").
    seen: bool = False
    reshaped: bool = False  # times or pattern changed since the last check (exceptions reset)
    cancelled_once: bool = False  # an occurrence was ever cancelled (on either side)
    checked: bool = False  # checked once, and no change of times or pattern since (its occurrence ids are known)
    edits: dict[Side, dict[str, object]] = field(default_factory=lambda: {"m365": {}, "erp": {}})
    occurrence_edits: dict[Side, dict[datetime, Outcome]] = field(default_factory=lambda: {"m365": {}, "erp": {}})
    settled: dict[datetime, Outcome] = field(default_factory=dict)  # occurrences not PLAIN at the last check
    # The owner's link as last checked. A link made since (a crash lost the first, R10) weighs every field both
    # sides show differently as changed on both (``records.relinked``): the value from before may then win (R6).
    link_id: str | None = None
    relinked: bool = False

    def edit(self, side: Side, **values: object) -> None:
        self.edits[side].update(values)
        if "shape" in values:
            self.reshaped, self.checked = True, False
            if side == "m365":
                self.seen = False

    def edit_occurrence(self, side: Side, original: datetime, value: Outcome) -> None:
        self.occurrence_edits[side][original] = value
        self.cancelled_once = self.cancelled_once or value == CANCELLED

    def subjects(self) -> set[str]:
        return {str(s) for s in self._either("subject", self.subject)}

    def shapes(self) -> set[Shape]:
        return {s for s in self._either("shape", self.shape) if isinstance(s, tuple)}

    def seen_link(self, link_id: str) -> None:
        """The owner's link the check found: a new one (not the first seen) was made again after a crash (R10)."""
        self.relinked = self.link_id != link_id

    def outcomes(self, original: datetime, length: timedelta) -> set[Outcome] | None:
        """What the occurrence may show; None when the series was reshaped since the check (side against side)."""
        if self.reshaped:
            return None
        given = {
            _plain(edits[original], original, length) for edits in self.occurrence_edits.values() if original in edits
        }
        settled = self.settled.get(original, PLAIN)
        return (given | {settled}) if given and self.relinked else (given or {settled})

    def settle(self, *, subject: str, shape: Shape, occurrences: dict[datetime, Outcome]) -> None:
        """Take what the caught-up syncs left on both sides as the new starting point."""
        self.subject, self.shape, self.seen, self.reshaped, self.relinked = subject, shape, True, False, False
        self.checked = True
        self.settled = {k: v for k, v in occurrences.items() if v != PLAIN}
        self.edits = {"m365": {}, "erp": {}}
        self.occurrence_edits = {"m365": {}, "erp": {}}

    def _either(self, name: str, current: object) -> set[object]:
        given = {side[name] for side in self.edits.values() if name in side}
        return (given | {current}) if given and self.relinked else (given or {current})


def _plain(value: Outcome, original: datetime, length: timedelta) -> Outcome:
    if isinstance(value, tuple):
        return outcome(original, length, *value)
    return value
