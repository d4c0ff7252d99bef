"""The actions a series is planned with (R28); the engine executes them (``shared/sync/write_series.py``).

A series' removal reuses ``VoidActivity`` (R8: the Outlook series was deleted) and ``DeleteEvent`` (the
series activity was voided in the ERP: its master, so the whole series, leaves the calendar).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.activities import Activity
from shared.core.items import CalendarItem, Field, Side
from shared.core.links import Link
from shared.core.m365 import M365Event
from shared.core.series import SeriesView


@dataclass(frozen=True, kw_only=True)
class CreateSeriesActivity:
    """R28: an Outlook series with no link becomes one ERP series activity, with its exceptions."""

    view: SeriesView
    master: M365Event
    item: CalendarItem


@dataclass(frozen=True, kw_only=True)
class SeriesToErp:
    """R28/R6: write what Outlook changed in a linked series to its activity: ``fields`` of the master, its
    pattern (``pattern``, with its times) and its exceptions in the window (``exceptions``)."""

    link: Link
    view: SeriesView
    master: M365Event
    item: CalendarItem
    fields: frozenset[Field]
    pattern: bool
    exceptions: bool
    # Outlook's pattern changed: Graph reset its exceptions, so occurrences remembered before are not cancelled.
    reset: bool
    # R6 occurrence by occurrence: the occurrences (original starts) whose exception Outlook's wins; None: all.
    only: frozenset[str] | None = None


@dataclass(frozen=True, kw_only=True)
class CreateSeriesEvent:
    """R28: a recurring ERP activity with no link becomes one Outlook series, its exceptions applied."""

    activity: Activity
    item: CalendarItem
    # R4: a series with no occurrence left to come is written without attendees (nobody invited to the past).
    invite: bool = True


@dataclass(frozen=True, kw_only=True)
class SeriesToM365:
    """R28/R6: write what the ERP changed in a linked series to its master: ``fields``, the pattern (which resets
    Graph's exceptions, so they are applied again) and the exceptions (PATCH or DELETE of occurrences)."""

    link: Link
    activity: Activity
    item: CalendarItem
    fields: frozenset[Field]
    pattern: bool
    exceptions: bool
    # R6 occurrence by occurrence: the occurrences (original starts) whose exception the ERP's wins; None: all.
    only: frozenset[str] | None = None


@dataclass(frozen=True, kw_only=True)
class SeriesSeen:
    """Nothing to write: remember what each side of a series shows now (hashes, its occurrences' ids)."""

    link: Link
    view: SeriesView | None = None
    activity: Activity | None = None
    reset: bool = False


@dataclass(frozen=True, kw_only=True)
class FollowOccurrence:
    """R28, ERP without series: an occurrence's link follows its occurrence to its new id after the series moved
    (``link`` already names the new occurrence); its activity is then updated, never voided and made again."""

    link: Link


@dataclass(frozen=True, kw_only=True)
class RelinkSeries:
    """R10/R28: a series and its series activity both exist and a crash lost their link: they are paired again as
    a series (never two links, never a single item's), then merged per series (R6) as the executor finds them."""

    view: SeriesView
    master: M365Event
    activity_id: str
    origin: Side


SeriesAction = (
    CreateSeriesActivity | SeriesToErp | CreateSeriesEvent | SeriesToM365 | SeriesSeen | FollowOccurrence | RelinkSeries
)
