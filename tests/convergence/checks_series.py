"""The machine's series checks once every sync has caught up (R28, with R5, R6, R8, R10, R12, R21).

For each series people made (``model_series.Series``):

- deleted in Outlook or voided in the ERP: no live activity is left of it, and Outlook holds no master for it;
- an ERP with series: exactly ONE live series activity (R10), linked to ONE master (the owner's link is an
  active series link; an ERP-born series is stamped on no other event, never a single event); the master shows
  the activity's subject (R21: "Meeting: <subject>" for an ERP-born one), times and number of occurrences, each
  one of those people gave since the last check (R6); the occurrences are equal on both sides: the same original
  starts, cancelled ones absent in Outlook and cancelled in the ERP, each at the same times (R12: instants);
- an ERP without series: each occurrence in Outlook has exactly ONE live activity, linked to it with its
  series and original start, at its times and with its subject; no other live activity is linked to the series;
- each occurrence edited since the last check (and not reset by a change of the series' times or pattern)
  shows one of the edits people made of it; one nobody edited shows what the last check saw.

``check_series`` returns the ids of the live activities it accounted for, so the meetings' check
(``checks.check``) does not take them for activities no meeting explains (R10).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime, timedelta
from typing import Any

from shared.core.activities import Activity, ActivityState
from shared.core.links import Link
from tests.convergence.model import is_meeting_title
from tests.convergence.model_series import CANCELLED, Outcome, Series, outcome
from tests.convergence.series_world import (
    Occurrence,
    erp_occurrences,
    instances,
    master,
    occurrence_links,
    owner_link,
    series_activity,
    shape_of,
    stamped,
    utc,
)
from tests.convergence.statistics import statistic
from tests.convergence.world import PEOPLE, World, instant


def check_series(world: World, made: Sequence[Series], *, erp_series: bool) -> Set[str]:
    """Hold every series against both systems and the model; the live activities accounted for."""
    explained: set[str] = set()
    links = {key: list(world.run(world.state.links_for_user(p.user_id))) for key, p in PEOPLE.items()}
    for series in made:
        where = f"series {series.number} ({series.origin}, owner {series.owner})"
        if series.ended:
            _check_ended(world, series, links[series.owner], where)
            statistic(f"series: {series.origin} series ended")
        elif erp_series:
            explained.add(_check_as_series(world, series, links[series.owner], where))
        else:
            explained.update(_check_by_occurrence(world, series, links[series.owner], where))
    return explained


def _check_ended(world: World, series: Series, links: list[Link], where: str) -> None:
    live = series_activity(world, series) + _occurrence_activities(world, series, links)
    assert not live, f"{where} was deleted or voided, yet has live activities (R8): {live}"
    master_id = series.master_id or _linked_master(links, series)
    if master_id is not None:
        shown = world.run(master(world, series.owner, master_id))
        assert shown is None or shown.get("isCancelled"), f"{where} was deleted or voided, yet Outlook shows it"
    if series.activity_id is not None:
        left = world.run(stamped(world, series.owner, series.activity_id))
        assert not left, f"{where} was voided, yet Outlook shows events made for it (R8): {left}"


def _check_as_series(world: World, series: Series, links: list[Link], where: str) -> str:
    live = series_activity(world, series)
    assert len(live) == 1, f"{where}: {len(live)} live series activities, one expected (R10, R28): {live}"
    activity = live[0]
    assert activity.recurrence is not None, f"{where}: its activity has no recurrence (R28): {activity!r}"
    link = owner_link(links, series)
    assert link is not None, f"{where}: no active link of its owner (R28): {activity.id}"
    assert link.event_id, f"{where}: its link names no event (R28): {link}"
    assert link.activity_id == activity.id, f"{where}: the link names {link.activity_id}, not {activity.id} (R10)"
    assert link.series is not None, f"{where}: the owner's link is not a series' link (R28): {link}"
    if series.master_id is not None:
        assert link.event_id == series.master_id, f"{where}: linked to {link.event_id}, not its master (R10)"
    series.seen_link(link.link_id)
    shown = world.run(master(world, series.owner, link.event_id))
    assert shown is not None, f"{where}: no master in Outlook (R28): {link.event_id}"
    assert shown.get("type") == "seriesMaster", f"{where}: not a series in Outlook (R28): {shown}"
    if series.activity_id is not None:
        made = world.run(stamped(world, series.owner, series.activity_id))
        masters = {e.get("seriesMasterId") or e["id"] for e in made}
        singles = [e for e in made if e.get("type") == "singleInstance"]
        assert masters <= {link.event_id}, f"{where}: other series made for it (R10): {made}"
        assert not singles, f"{where}: single events made for it (R10): {singles}"
    subject = activity.subject
    assert subject in series.subjects(), f"{where}: subject {subject!r}, expected one of {series.subjects()}"
    if series.origin == "erp":
        assert is_meeting_title(shown["subject"], subject), f"{where}: master titled {shown['subject']!r} (R21)"
    else:
        assert shown["subject"] == subject, f"{where}: master {shown['subject']!r}, activity {subject!r}"
    shape = shape_of(activity)
    assert shape in series.shapes(), f"{where}: shaped {shape}, expected one of {series.shapes()}"
    count = shown["recurrence"]["range"].get("numberOfOccurrences")
    assert count == shape[2], f"{where}: Outlook repeats {count} times, the ERP {shape[2]}"
    erp = erp_occurrences(activity)
    outlook = world.run(instances(world, series.owner, link.event_id))
    _same_occurrences(erp, outlook, shape[1] - shape[0], where)
    _as_expected(series, erp, shape[1] - shape[0], where)
    series.settle(subject=subject, shape=shape, occurrences=erp)
    series.link_id = link.link_id
    statistic(f"series: {series.origin} series as one series activity, {len(series.settled)} exceptions")
    return activity.id


def _same_occurrences(erp: dict[datetime, Outcome], outlook: list[Occurrence], length: timedelta, where: str) -> None:
    """The same occurrences on both sides, at the same instants; cancelled ones only in the ERP, as cancelled."""
    shown = {o.original: (o.start, o.end) for o in outlook}
    assert len(shown) == len(outlook), f"{where}: Outlook shows an occurrence twice (R10): {outlook}"
    kept = {k: v for k, v in erp.items() if v != CANCELLED}
    assert set(shown) == set(kept), (
        f"{where}: occurrences differ (R28): only in Outlook {sorted(set(shown) - set(kept))}, only in the ERP "
        f"{sorted(set(kept) - set(shown))}, cancelled in the ERP {sorted(k for k, v in erp.items() if v == CANCELLED)}"
    )
    for original, (start, end) in shown.items():
        value = kept[original]
        erp_when = value if isinstance(value, tuple) else (original, original + length)
        assert (start, end) == erp_when, (
            f"{where}: occurrence {original} at {start}..{end} in Outlook, {value} in the ERP"
        )


def _as_expected(series: Series, occurrences: dict[datetime, Outcome], length: timedelta, where: str) -> None:
    """Each occurrence shows what people did to it since the check (R6: either side's last edit)."""
    edited = {k for side in series.occurrence_edits.values() for k in side} | set(series.settled)
    for original in edited | set(occurrences):
        expected = series.outcomes(original, length)
        if expected is None:
            return
        if original not in occurrences:  # the pattern names it no more (reshaped earlier), or outside the window
            continue
        value = occurrences[original]
        assert value in expected, f"{where}: occurrence {original} shows {value}, expected one of {expected} (R6)"


def _check_by_occurrence(world: World, series: Series, links: list[Link], where: str) -> set[str]:
    master_id = series.master_id
    assert master_id is not None, f"{where}: an ERP without series holds no ERP-born series"
    outlook = world.run(instances(world, series.owner, master_id))
    by_event = {link.event_id: link for link in occurrence_links(links, series)}
    activities = {a.id: a for a in world.activities()}
    live: set[str] = set()
    seen: dict[datetime, Outcome] = {}
    shown_master = world.run(master(world, series.owner, master_id))
    assert shown_master is not None, f"{where}: the master is gone, yet the series is live in the model"
    length = _length(shown_master)
    for occurrence in outlook:
        link = by_event.get(occurrence.id)
        at = f"{where}, occurrence {occurrence.original}"
        assert link is not None, f"{at}: not linked (R28): {occurrence}"
        assert link.activity_id, f"{at}: its link names no activity: {link}"
        assert link.original_start == occurrence.original, f"{at}: the link names {link.original_start} (R28)"
        activity = activities[link.activity_id]
        assert activity.state is not ActivityState.VOIDED, f"{at}: its activity is voided: {activity!r}"
        zone = activity.time_zone or "UTC"
        when = (utc(activity.start, zone), utc(activity.end, zone))
        assert when == (occurrence.start, occurrence.end), f"{at}: at {when} in the ERP, {occurrence} in Outlook"
        assert activity.subject == occurrence.subject, f"{at}: {activity.subject!r} in the ERP, {occurrence.subject!r}"
        assert activity.subject in series.subjects(), f"{at}: {activity.subject!r}, expected {series.subjects()}"
        assert activity.recurrence is None, f"{at}: a recurrence sent to an ERP without series: {activity!r}"
        live.add(activity.id)
        seen[occurrence.original] = outcome(occurrence.original, length, occurrence.start, occurrence.end)
    others = [a for a in _occurrence_activities(world, series, links) if a.id not in live]
    assert not others, f"{where}: live activities linked to no occurrence Outlook shows (R8, R10): {others}"
    for original in set(series.settled) | {k for side in series.occurrence_edits.values() for k in side}:
        seen.setdefault(original, CANCELLED)  # known, and gone from Outlook: cancelled on one side or the other
    _as_expected(series, seen, length, where)
    subject = shown_master.get("subject") or ""
    start, end = _first(shown_master, length)
    count = shown_master["recurrence"]["range"].get("numberOfOccurrences", 0)
    series.settle(subject=subject, shape=(start, end, count), occurrences=seen)
    statistic(f"series: outlook series as {len(live)} activities (an ERP without series)")
    return live


def _length(shown: dict[str, Any]) -> timedelta:
    start, end = shown["start"], shown["end"]
    return instant(end["dateTime"], end["timeZone"]) - instant(start["dateTime"], start["timeZone"])


def _first(shown: dict[str, Any], length: timedelta) -> tuple[datetime, datetime]:
    first = instant(shown["start"]["dateTime"], shown["start"]["timeZone"])
    return first, first + length


def _linked_master(links: list[Link], series: Series) -> str | None:
    link = owner_link(links, series)
    return link.event_id if link is not None else None


def _occurrence_activities(world: World, series: Series, links: list[Link]) -> list[Activity]:
    """Live activities the owner's links tie to the series' occurrences (an ERP without series)."""
    ids = {link.activity_id for link in occurrence_links(links, series) if link.activity_id}
    return [a for a in world.activities() if a.id in ids and a.state is not ActivityState.VOIDED]
