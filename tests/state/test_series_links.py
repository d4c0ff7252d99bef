"""Series' links (R28) round-trip on every state store (contract): an occurrence's series and original start,
and a series' memo (its pattern and exceptions per side, its occurrences in the window)."""

from __future__ import annotations

from datetime import timedelta

from shared.core.series import MAX_REMEMBERED, SeriesMemo
from shared.state.port import StateStore
from tests.state.conftest import NOW
from tests.state.test_links import USER, make_link


async def test_an_occurrence_link_keeps_its_series_and_original_start(store: StateStore) -> None:
    """R28 (ERP without series): the link names its series and position, so a moved series is matched."""
    link = make_link("L-occ", series_master_id="AAMk-master==", original_start=NOW + timedelta(days=7))
    saved = await store.save_link(link)
    assert (await store.link_by_event(USER, link.event_id or "")) == saved
    assert saved.series_master_id == "AAMk-master=="
    assert saved.original_start == NOW + timedelta(days=7)


async def test_a_series_link_keeps_its_memo_with_as_many_occurrence_ids_as_it_may_hold(store: StateStore) -> None:
    """R28: a series' memo with its most occurrence ids (Graph ids of about 150 characters) fits one row."""
    memo = SeriesMemo(
        m365_pattern="p1",
        erp_pattern="p2",
        m365_exceptions="e1",
        erp_exceptions="e2",
        occurrence_ids=tuple(f"AAMkOc{n:04d}" + "x" * 146 for n in range(MAX_REMEMBERED)),
        known=tuple(NOW + timedelta(days=n) for n in range(MAX_REMEMBERED)),
    )
    saved = await store.save_link(make_link("L-series", series=memo))
    (found,) = [link for link in await store.links_for_user(USER) if link.link_id == "L-series"]
    assert found == saved
    assert found.series == memo
