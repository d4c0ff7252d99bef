"""Reading what a run plans series with (R28): the ERP's capability, and for every series the run's changes
touch its master (``GET /events/{seriesMasterId}``: a calendar-view delta never carries masters, graph-facts
§1) and its occurrences in the window (``GET /events/{id}/instances``). Two Graph requests per series a run
touches; none for an ERP without series, whose occurrences are planned one by one. Reads only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.core.links import Link
from shared.core.m365 import DeltaEntry
from shared.core.series import SeriesView, master_of, memo_index
from shared.errors import GraphNotFound
from shared.sync.context import RunContext


async def erp_series(run: RunContext) -> bool:
    """Whether the ERP holds series (its capabilities, read once by the adapter; asked once per run)."""
    if run.erp_series is None:
        run.erp_series = (await run.ports.erp.capabilities()).series
    return run.erp_series


async def views(run: RunContext, entries: Sequence[DeltaEntry], links: Sequence[Link]) -> dict[str, SeriesView]:
    """The series among ``entries`` as they are now, by master id (none for an ERP without series)."""
    if not entries or run.window is None or not await erp_series(run):
        return {}
    series_links = {link.event_id: link for link in links if link.series is not None and link.event_id}
    by_occurrence = memo_index((master, link.series) for master, link in series_links.items())
    wanted = {
        master for entry in entries if (master := master_of(entry, by_occurrence, frozenset(series_links))) is not None
    }
    return {master_id: await read_view(run, master_id, run.window) for master_id in sorted(wanted)}


async def read_view(run: RunContext, master_id: str, window: tuple[datetime, datetime]) -> SeriesView:
    """One series: its master (None when deleted: R9's direct read) and its occurrences in ``window``."""
    calendar = run.ports.calendar
    start, end = window
    try:
        master = await calendar.get_event(run.mailbox, master_id)
    except GraphNotFound:
        return SeriesView(master_id=master_id, window_start=start, window_end=end)
    if master.recurrence is None:  # not (or no longer) a series: a single event keeps its own link
        return SeriesView(master_id=master_id, master=master, instances=(), window_start=start, window_end=end)
    instances = await calendar.instances(run.mailbox, master_id, start=start, end=end)
    # R10: a copy of someone's series is linked to its one activity through the series' claim; the organizer's own
    # claim names the series activity a crash left without its link.
    claim = await run.ports.state.get_meeting(master.ical_uid) if master.ical_uid else None
    return SeriesView(
        master_id=master_id,
        master=master,
        instances=tuple(instances),
        window_start=start,
        window_end=end,
        claim=claim,
    )
