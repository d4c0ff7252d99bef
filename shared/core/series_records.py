"""What a series' link records after each write (R28), like ``core.records`` for single items: pure functions
of what the writes returned. The field fingerprints come from ``core.records``; the series' own memory (its
pattern and exceptions per side, and its occurrences in the window) from here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from shared.core import records
from shared.core.activities import Activity
from shared.core.fingerprint import fingerprint
from shared.core.items import CalendarItem, Field, Side
from shared.core.links import Link
from shared.core.m365 import M365Event
from shared.core.policy import SyncPolicy
from shared.core.series import (
    SeriesMemo,
    SeriesView,
    by_original,
    erp_exceptions,
    exceptions_hash,
    in_window,
    known_after,
    m365_exceptions,
    pattern_hash,
    remembered_ids,
)


def m365_memo(
    memo: SeriesMemo | None, view: SeriesView, *, reset: bool, cancelled: Iterable[datetime] = ()
) -> SeriesMemo:
    """Outlook's side of the series as ``view`` shows it. ``cancelled``: original starts the sync itself just
    cancelled (an ERP exception), remembered as seen so they read as cancelled from now on."""
    base = memo or SeriesMemo()
    extra = {c.astimezone(UTC) for c in cancelled if in_window(c.astimezone(UTC), view)}
    known = tuple(sorted(set(known_after(view, memo, reset=reset)) | extra))
    seen = base.model_copy(update={"known": known})
    master = view.master
    return seen.model_copy(
        update={
            "m365_pattern": pattern_hash(master.recurrence) if master is not None else base.m365_pattern,
            "m365_exceptions": exceptions_hash(found := m365_exceptions(view, seen, reset=False)),
            "m365_each": by_original(found),
            "occurrence_ids": remembered_ids(view),
        }
    )


def erp_memo(
    memo: SeriesMemo | None, activity: Activity, *, pattern: bool = True, exceptions: bool = True
) -> SeriesMemo:
    """The ERP's side of the series as ``activity`` shows it (only the parts written, when a write chose some)."""
    base = memo or SeriesMemo()
    return base.model_copy(
        update={
            "erp_pattern": pattern_hash(activity.recurrence) if pattern else base.erp_pattern,
            "erp_exceptions": exceptions_hash(erp_exceptions(activity)) if exceptions else base.erp_exceptions,
            "erp_each": by_original(erp_exceptions(activity)) if exceptions else base.erp_each,
        }
    )


def _cancelled(activity: Activity) -> list[datetime]:
    return [e.original_start for e in erp_exceptions(activity) if e.cancelled]


def series_paired(
    *,
    user_id: str,
    link_id: str,
    origin: Side,
    master: M365Event,
    activity: Activity,
    view: SeriesView,
    item: CalendarItem,
    policy: SyncPolicy,
    now: datetime,
) -> Link:
    """A new series' link: master ↔ series activity, each side's fields and series as written (create)."""
    link = records.paired(
        user_id=user_id,
        link_id=link_id,
        origin=origin,
        event=master,
        activity=activity,
        policy=policy,
        now=now,
        m365_fields=fingerprint(item) if origin is Side.M365 else None,
        erp_fields=fingerprint(item) if origin is Side.ERP else None,
    )
    cancelled = _cancelled(activity) if origin is Side.ERP else []
    memo = erp_memo(m365_memo(None, view, reset=True, cancelled=cancelled), activity)
    return link.evolve({"series": memo})


def after_series_to_erp(
    link: Link,
    *,
    view: SeriesView,
    master: M365Event,
    item: CalendarItem,
    fields: Iterable[Field],
    pattern: bool,
    exceptions: bool,
    reset: bool,
    updated: Activity,
    now: datetime,
) -> Link:
    """The activity took Outlook's series: Outlook's side is synced as read; of the ERP's, what was written."""
    after = records.after_activity_update(link, event=master, item=item, fields=fields, updated=updated, now=now)
    memo = m365_memo(link.series, view, reset=reset)
    return after.evolve({"series": erp_memo(memo, updated, pattern=pattern, exceptions=exceptions)})


def after_series_to_m365(
    link: Link,
    *,
    activity: Activity,
    item: CalendarItem,
    fields: Iterable[Field],
    pattern: bool,
    exceptions: bool,
    written: M365Event,
    view: SeriesView | None,
    policy: SyncPolicy,
    now: datetime,
) -> Link:
    """The master took the activity's series (and its occurrences its exceptions, re-read into ``view``)."""
    after = records.after_event_update(
        link, item=item, fields=fields, activity=activity, written=written, policy=policy, now=now
    )
    # In a two-sided run the ERP was written just before (SeriesToErp) from a fresh read: its memo is newer.
    newer_erp = link.erp_version is not None and link.erp_version > activity.version
    memo = (
        link.series or SeriesMemo()
        if newer_erp
        else erp_memo(link.series, activity, pattern=pattern, exceptions=exceptions)
    )
    if view is not None:
        memo = m365_memo(memo, view, reset=pattern, cancelled=_cancelled(activity) if exceptions else ())
    else:
        memo = memo.model_copy(update={"m365_pattern": pattern_hash(written.recurrence)})
    return after.evolve({"series": memo})


def series_seen(
    link: Link, *, view: SeriesView | None, activity: Activity | None, reset: bool, policy: SyncPolicy, now: datetime
) -> Link:
    """Nothing written: what each side of the series shows now becomes what was synced."""
    master = view.master if view is not None else None
    seen = records.remembered(link, event=master, activity=activity, policy=policy, now=now)
    memo = link.series
    if view is not None and master is not None:
        memo = m365_memo(memo, view, reset=reset)
    if activity is not None:
        memo = erp_memo(memo, activity)
    return seen.evolve({"series": memo or SeriesMemo()})


def followed(link: Link, *, now: datetime) -> Link:
    """R28 (ERP without series): the link names its occurrence's new id, iCalUId and original start."""
    return link.evolve({"updated_at": now})


def relinked_memo(view: SeriesView, activity: Activity, *, erp_edited: bool) -> SeriesMemo:
    """R10: the series' memory when a crash lost its link, like ``records.relinked``'s fields: its pattern as the
    activity shows it (a pattern Outlook shows otherwise is Outlook's change); its exceptions as the activity shows
    them when nobody changed the activity since it was made (what Outlook shows otherwise is Outlook's change),
    else none on either side, so each occurrence's exception counts as changed on the side showing it and one on
    both goes to the later change (R6). The occurrences in the window are the ones seen."""
    seen = erp_memo(m365_memo(None, view, reset=True), activity)
    base = {"exceptions": "", "each": {}} if erp_edited else {"exceptions": seen.erp_exceptions, "each": seen.erp_each}
    return seen.model_copy(
        update={
            "m365_pattern": seen.erp_pattern,
            "m365_exceptions": base["exceptions"],
            "m365_each": base["each"],
            "erp_exceptions": base["exceptions"],
            "erp_each": base["each"],
        }
    )
