"""What each side shows of a recurring series (R28), read as people's clients and the machine's checks read it.

Outlook: a master (``GET /events/{id}``; None once deleted) and its occurrences (``/instances`` over the days the
machine uses), each with its original start. The ERP: a series activity's occurrences, expanded from its
recurrence in its zone with its exceptions applied (the reference ERP's own expansion), or, for an ERP without
series, the activities linked to the series' occurrences (each link names its series and original start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulators.erp.series import occurrences as erp_originals
from shared.core.activities import Activity, ActivityState
from shared.core.links import Link, LinkState
from shared.graph.convert import ERP_STAMP_PROPERTY
from tests.convergence.model_series import CANCELLED, Outcome, Series, Shape, outcome
from tests.convergence.world import PEOPLE, World, instant


@dataclass(frozen=True)
class Occurrence:
    """One occurrence as Outlook shows it."""

    id: str
    original: datetime  # UTC
    start: datetime
    end: datetime
    subject: str
    kind: str  # "occurrence" or "exception"


def utc(wall: datetime, zone: str) -> datetime:
    """A naive wall-clock time in ``zone`` as an aware UTC instant."""
    return wall.replace(tzinfo=ZoneInfo(zone or "UTC")).astimezone(UTC)


def wall(moment: datetime, zone: str) -> str:
    """An instant as Graph's and the ERP's wall-clock text in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat()


def _span(world: World) -> dict[str, str]:
    start, end = world.today - timedelta(days=1), world.today + timedelta(days=40)
    return {"startDateTime": start.isoformat(), "endDateTime": end.isoformat(), "$top": "100"}


async def master(world: World, owner: str, master_id: str) -> dict[str, Any] | None:
    """The series' master as Outlook shows it; None once the series is deleted."""
    response = await world.graph.get(f"/v1.0/users/{PEOPLE[owner].mailbox}/events/{master_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def instances(world: World, owner: str, master_id: str) -> list[Occurrence]:
    """The series' occurrences in Outlook (cancelled ones are gone), by original start."""
    path = f"/v1.0/users/{PEOPLE[owner].mailbox}/events/{master_id}/instances"
    response = await world.graph.get(path, params=_span(world))
    assert response.status_code == 200, response.text
    found = [
        Occurrence(
            id=e["id"],
            original=instant(e["originalStart"], "UTC"),
            start=instant(e["start"]["dateTime"], e["start"]["timeZone"]),
            end=instant(e["end"]["dateTime"], e["end"]["timeZone"]),
            subject=e.get("subject") or "",
            kind=e["type"],
        )
        for e in response.json()["value"]
    ]
    return sorted(found, key=lambda o: o.original)


async def stamped(world: World, owner: str, activity_id: str) -> list[dict[str, Any]]:
    """Every event of the owner's calendar view made for ``activity_id`` (occurrences carry their master's stamp)."""
    params = {**_span(world), "$expand": f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')"}
    url: str = f"/v1.0/users/{PEOPLE[owner].mailbox}/calendarView"
    out: list[dict[str, Any]] = []
    query: dict[str, str] | None = params
    while url:
        response = await world.graph.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        for event in page["value"]:
            stamps = [p.get("value") for p in event.get("singleValueExtendedProperties") or []]
            if activity_id in stamps:
                out.append(event)
        next_link = page.get("@odata.nextLink")
        url, query = ("/v1.0" + next_link.split("/v1.0", 1)[1] if next_link else ""), None
    return out


def shape_of(activity: Activity) -> Shape:
    """A series activity's first occurrence (UTC) and its number of occurrences."""
    assert activity.recurrence is not None
    zone = activity.time_zone or "UTC"
    count = activity.recurrence.range.number_of_occurrences
    return utc(activity.start, zone), utc(activity.end, zone), count


def erp_occurrences(activity: Activity) -> dict[datetime, Outcome]:
    """The series activity's occurrences by original start (UTC): PLAIN, CANCELLED or moved (R28)."""
    assert activity.recurrence is not None
    zone = activity.time_zone or "UTC"
    length = activity.end - activity.start
    exceptions = {utc(e.original_start, zone): e for e in activity.exceptions}
    out: dict[datetime, Outcome] = {}
    for original_wall in erp_originals(activity.recurrence, activity.start):
        original = utc(original_wall, zone)
        found = exceptions.get(original)
        if found is not None and found.cancelled:
            out[original] = CANCELLED
            continue
        start = utc(found.start, zone) if found is not None and found.start else original
        end = utc(found.end, zone) if found is not None and found.end else start + length
        out[original] = outcome(original, length, start, end)
    return out


def series_activity(world: World, series: Series) -> list[Activity]:
    """The live activities of a series (an ERP with series): the one made for it, or from its master."""
    return [
        a
        for a in world.activities()
        if a.state is not ActivityState.VOIDED
        and (a.id == series.activity_id or (series.master_id and a.origin and a.origin.event_id == series.master_id))
    ]


def owner_link(links: list[Link], series: Series) -> Link | None:
    """The owner's link of the series: by its master (Outlook-born) or by its activity (ERP-born)."""
    for link in links:
        if link.state is not LinkState.ACTIVE:
            continue
        if (series.master_id and link.event_id == series.master_id) or (
            series.activity_id and link.activity_id == series.activity_id
        ):
            return link
    return None


def occurrence_links(links: list[Link], series: Series) -> list[Link]:
    """An ERP without series: the owner's active links of the series' occurrences, by original start."""
    found = [
        link
        for link in links
        if link.state is LinkState.ACTIVE and series.master_id and link.series_master_id == series.master_id
    ]
    return sorted(found, key=lambda link: link.original_start or datetime.min.replace(tzinfo=UTC))
