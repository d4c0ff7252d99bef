"""Recurring series (R28): the vocabulary the planner compares a series with (pure).

With an ERP that holds series, one Outlook series is one link, master ↔ series activity. The link's
``SeriesMemo`` remembers, per side, a hash of the series' pattern and of its exceptions as each side showed
them after the last sync (like a link's field fingerprints, R5), plus what places a removed occurrence: the
ids of the series' occurrences in the window, and their original starts (an original start seen once and
absent now is an occurrence cancelled in Outlook). Graph's calendar-view delta carries occurrences and
exceptions, never the master (graph-facts §1): the engine reads the master (``GET /events/{id}``) and its
occurrences in the window (``/instances``) into a ``SeriesView`` for every series a run touches.

Exceptions are compared in one neutral form, ``SeriesException`` (instants in UTC; ``None`` fields are the
series' own). On the ERP side an exception is the contract's ``OccurrenceException`` (wall clock in the
activity's zone); on the Graph side an occurrence of ``type: exception``, or an occurrence missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.core.activities import (
    Activity,
    DayOfWeek,
    OccurrenceException,
    PatternType,
    RangeType,
    Recurrence,
    RecurrencePattern,
    RecurrenceRange,
    WeekIndex,
)
from shared.core.fingerprint import normalise_text
from shared.core.items import Field
from shared.core.m365 import DeltaEntry, EventType, M365Event
from shared.core.meetings import Meeting
from shared.core.timezones import localize, wall_clock

# A series' memo keeps at most this many occurrence ids (a daily series over a 31-day window needs 32; 150
# Graph ids of about 150 characters stay under a Table string property's 32 K characters).
MAX_REMEMBERED = 150
_WEEK = tuple(DayOfWeek)
_DAYS = frozenset({PatternType.WEEKLY, PatternType.RELATIVE_MONTHLY, PatternType.RELATIVE_YEARLY})
_DAY_OF_MONTH = frozenset({PatternType.ABSOLUTE_MONTHLY, PatternType.ABSOLUTE_YEARLY})
_MONTH = frozenset({PatternType.ABSOLUTE_YEARLY, PatternType.RELATIVE_YEARLY})
_INDEX = frozenset({PatternType.RELATIVE_MONTHLY, PatternType.RELATIVE_YEARLY})


class SeriesMemo(BaseModel):
    """What a series' link remembers besides its field fingerprints (R28)."""

    model_config = ConfigDict(frozen=True)

    m365_pattern: str = ""
    erp_pattern: str = ""
    m365_exceptions: str = ""
    erp_exceptions: str = ""
    # Ids of the series' occurrences in the window when last read: a removed id names its series by them.
    occurrence_ids: tuple[str, ...] = ()
    # Original starts (UTC) of the occurrences seen in the window since the pattern last changed.
    known: tuple[AwareDatetime, ...] = ()
    # Each exception's hash by original start (``by_original``), per side: R6 occurrence by occurrence.
    m365_each: dict[str, str] = {}
    erp_each: dict[str, str] = {}


class SeriesView(BaseModel):
    """A series as a run read it: its master (None when the series is gone) and its occurrences in the window."""

    model_config = ConfigDict(frozen=True)

    master_id: str
    master: M365Event | None = None
    instances: tuple[M365Event, ...] = ()
    window_start: AwareDatetime
    window_end: AwareDatetime
    # R10: the tenant-wide claim of the series (by its master's iCalUId), read for a copy of someone's series.
    claim: Meeting | None = None


class SeriesException(BaseModel):
    """One occurrence differing from its series, in neutral form (instants in UTC; None: the series' own)."""

    model_config = ConfigDict(frozen=True)

    original_start: AwareDatetime
    cancelled: bool = False
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    subject: str | None = None
    body: str | None = None
    location: str | None = None


# --- patterns ------------------------------------------------------------------------------------------


def canonical(recurrence: Recurrence | None) -> Recurrence | None:
    """The recurrence with only the values its types use, so Graph's and the ERP's readings compare equal.
    ``recurrenceTimeZone`` is dropped: a series repeats in its own zone on both sides (R12)."""
    if recurrence is None:
        return None
    p, r = recurrence.pattern, recurrence.range
    weekly = p.type is PatternType.WEEKLY
    return Recurrence(
        pattern=RecurrencePattern(
            type=p.type,
            interval=p.interval,
            days_of_week=tuple(d for d in _WEEK if d in p.days_of_week) if p.type in _DAYS else (),
            day_of_month=p.day_of_month if p.type in _DAY_OF_MONTH else 0,
            month=p.month if p.type in _MONTH else 0,
            index=p.index if p.type in _INDEX else WeekIndex.FIRST,
            first_day_of_week=p.first_day_of_week if weekly and p.interval > 1 else DayOfWeek.SUNDAY,
        ),
        range=RecurrenceRange(
            type=r.type,
            start_date=r.start_date,
            end_date=r.end_date if r.type is RangeType.END_DATE else None,
            number_of_occurrences=r.number_of_occurrences if r.type is RangeType.NUMBERED else 0,
        ),
    )


def with_zone(recurrence: Recurrence, time_zone: str) -> Recurrence:
    """The recurrence repeating in ``time_zone`` (what is written to Graph: the activity's zone, R12)."""
    return recurrence.model_copy(
        update={"range": recurrence.range.model_copy(update={"recurrence_time_zone": time_zone})}
    )


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pattern_hash(recurrence: Recurrence | None) -> str:
    found = canonical(recurrence)
    return _digest(found.model_dump(mode="json") if found else None)


# --- exceptions ----------------------------------------------------------------------------------------


def exceptions_hash(exceptions: Iterable[SeriesException]) -> str:
    return _digest(sorted((e.model_dump(mode="json") for e in exceptions), key=lambda e: str(e["original_start"])))


def original_key(original_start: datetime) -> str:
    """An occurrence's name in a memo: its original start in UTC."""
    return original_start.astimezone(UTC).isoformat()


def by_original(exceptions: Iterable[SeriesException]) -> dict[str, str]:
    """Each exception's hash, by its occurrence's original start."""
    return {original_key(e.original_start): _digest(e.model_dump(mode="json")) for e in exceptions}


def changed_originals(current: dict[str, str], synced: dict[str, str]) -> frozenset[str]:
    """Occurrences whose exception differs from the one last synced (made, changed or dropped since)."""
    return frozenset(k for k in current.keys() | synced.keys() if current.get(k) != synced.get(k))


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _differs(text: str, series_text: str) -> str | None:
    return text if normalise_text(text) != normalise_text(series_text) else None


def in_window(original_start: datetime, view: SeriesView) -> bool:
    return view.window_start <= original_start < view.window_end


def present(view: SeriesView) -> dict[datetime, M365Event]:
    """The series' occurrences in the view, by original start (UTC)."""
    return {o.astimezone(UTC): inst for inst in view.instances if (o := inst.original_start or inst.start) is not None}


def pattern_changed(view: SeriesView, memo: SeriesMemo | None) -> bool:
    """Graph resets a series' exceptions when its pattern or times change (emulators/graph, MS-OXOCAL)."""
    master = view.master
    return master is not None and (memo is None or pattern_hash(master.recurrence) != memo.m365_pattern)


def known_after(view: SeriesView, memo: SeriesMemo | None, *, reset: bool) -> tuple[datetime, ...]:
    """The original starts seen in the window: those remembered (unless the pattern changed) and those present."""
    earlier = () if reset or memo is None else memo.known
    seen = {k.astimezone(UTC) for k in earlier} | set(present(view))
    return tuple(sorted(k for k in seen if in_window(k, view)))


def m365_exceptions(view: SeriesView, memo: SeriesMemo | None, *, reset: bool) -> tuple[SeriesException, ...]:
    """The series' exceptions in the window as Outlook shows them: occurrences of ``type: exception`` that differ
    from the series (moved, re-titled, ...) and occurrences seen before and missing now (cancelled)."""
    master = view.master
    if master is None:
        return ()
    length = master.end - master.start
    here = present(view)
    found: list[SeriesException] = []
    for original, inst in sorted(here.items()):
        if inst.type is not EventType.EXCEPTION or not in_window(original, view):
            continue
        moved = inst.start.astimezone(UTC) != original or inst.end - inst.start != length
        exception = SeriesException(
            original_start=original,
            start=_utc(inst.start) if moved else None,
            end=_utc(inst.end) if moved else None,
            subject=_differs(inst.subject, master.subject),
            body=_differs(inst.body, master.body),
            location=_differs(inst.location, master.location),
        )
        if exception != SeriesException(original_start=original):
            found.append(exception)
    found.extend(
        SeriesException(original_start=k, cancelled=True) for k in known_after(view, memo, reset=reset) if k not in here
    )
    return tuple(sorted(found, key=lambda e: e.original_start))


def erp_exceptions(activity: Activity) -> tuple[SeriesException, ...]:
    """The activity's exceptions in neutral form (its wall clock read in its zone)."""
    tz = activity.time_zone
    return tuple(
        SeriesException(
            original_start=localize(e.original_start, tz).astimezone(UTC),
            cancelled=e.cancelled,
            start=localize(e.start, tz).astimezone(UTC) if e.start else None,
            end=localize(e.end, tz).astimezone(UTC) if e.end else None,
            subject=e.subject,
            body=e.description,
            location=e.location,
        )
        for e in activity.exceptions
    )


def to_erp(exception: SeriesException, *, time_zone: str, fields: frozenset[Field]) -> OccurrenceException:
    """An exception for the ERP, in the activity's wall clock; only the fields Outlook may change (R21, R22)."""
    if exception.cancelled:
        return OccurrenceException(original_start=wall_clock(exception.original_start, time_zone), cancelled=True)
    moved = Field.WHEN in fields and exception.start is not None and exception.end is not None
    return OccurrenceException(
        original_start=wall_clock(exception.original_start, time_zone),
        start=wall_clock(exception.start, time_zone) if moved and exception.start else None,
        end=wall_clock(exception.end, time_zone) if moved and exception.end else None,
        subject=exception.subject if Field.SUBJECT in fields else None,
        description=exception.body if Field.BODY in fields else None,
        location=exception.location if Field.LOCATION in fields else None,
    )


def merged_for_erp(
    current: Activity | None,
    view: SeriesView,
    exceptions: Sequence[SeriesException],
    *,
    time_zone: str,
    fields: frozenset[Field],
    only: frozenset[str] | None = None,
) -> tuple[OccurrenceException, ...]:
    """The ERP's whole list of exceptions after Outlook's: outside the window the ERP's own stay; inside it,
    Outlook's (what Outlook shows there is all Graph lets the sync see). With ``only`` (original starts, R6
    occurrence by occurrence), Outlook's replace the ERP's for those occurrences alone."""
    if only is not None and current is not None:
        outlook = {original_key(e.original_start): e for e in exceptions}
        own = [
            e
            for e, n in zip(current.exceptions, erp_exceptions(current), strict=True)
            if original_key(n.original_start) not in only
        ]
        taken = [to_erp(outlook[k], time_zone=time_zone, fields=fields) for k in sorted(only) if k in outlook]
        chosen = [e for e in taken if e != OccurrenceException(original_start=e.original_start)]
        return tuple(sorted([*own, *chosen], key=lambda e: e.original_start))
    kept = (
        [
            e
            for e, n in zip(current.exceptions, erp_exceptions(current), strict=True)
            if not in_window(n.original_start, view)
        ]
        if current is not None
        else []
    )
    written = [to_erp(e, time_zone=time_zone, fields=fields) for e in exceptions]
    meaningful = [e for e in written if e != OccurrenceException(original_start=e.original_start)]
    return tuple(sorted([*kept, *meaningful], key=lambda e: e.original_start))


# --- which series a run touches ------------------------------------------------------------------------


def memo_index(memos: Iterable[tuple[str, SeriesMemo | None]]) -> dict[str, str]:
    """Occurrence id → master id, from the series links' memos."""
    return {occ: master for master, memo in memos if memo is not None for occ in memo.occurrence_ids}


def master_of(entry: DeltaEntry, by_occurrence: dict[str, str], series_links: frozenset[str]) -> str | None:
    """The series a delta entry belongs to: an occurrence's or exception's master, a master itself (read
    directly after a resync), an occurrence id a series' memo names, or a linked master reported gone."""
    event = entry.event
    if event is not None and event.series_master_id:
        return event.series_master_id
    if event is not None and event.type is EventType.SERIES_MASTER:
        return event.id
    if entry.event_id in by_occurrence:
        return by_occurrence[entry.event_id]
    return entry.event_id if entry.event_id in series_links else None


def remembered_ids(view: SeriesView) -> tuple[str, ...]:
    return tuple(sorted(inst.id for inst in view.instances))[:MAX_REMEMBERED]
