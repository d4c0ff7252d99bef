"""Recurring series in the ERP Sync API (R28: series sync as series; single occurrences edited or cancelled on
either side are kept as exceptions; where the ERP has no recurrence, each occurrence is its own activity).

Every test runs through HttpErp over loopback HTTP and through InProcessErp (the ``erp`` and
``erp_without_series`` fixtures), so both adapters keep the contract; what is about the wire uses ``raw``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from shared.core.activities import (
    ActivityFields,
    ActivityPatch,
    OccurrenceException,
    Recurrence,
)
from shared.erp.http_client import HttpErp
from shared.erp.port import ErpPort
from shared.errors import ErpInvalid

WEEKLY_THURSDAY: dict[str, Any] = {
    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"], "firstDayOfWeek": "monday"},
    # Past the start of summer time in Oslo (2027-03-28): occurrences keep their wall clock.
    "range": {"type": "endDate", "startDate": "2026-12-03", "endDate": "2027-04-29"},
}
MOVED = OccurrenceException(
    original_start=datetime(2026, 12, 10, 10),
    start=datetime(2026, 12, 11, 14),
    end=datetime(2026, 12, 11, 15),
    location="Fjord room",
)
CANCELLED = OccurrenceException(original_start=datetime(2026, 12, 24, 10), cancelled=True)


def series(recurrence: dict[str, Any] | None = WEEKLY_THURSDAY, **overrides: object) -> ActivityFields:
    """A weekly Thursday meeting 10:00–11:00 in Oslo from 2026-12-03 (``recurrence`` None: a single meeting)."""
    base: dict[str, object] = {
        "type": "meeting",
        "subject": "Project check-in",
        "start": datetime(2026, 12, 3, 10),
        "end": datetime(2026, 12, 3, 11),
        "time_zone": "Europe/Oslo",
        "owner_id": "U1",
        "registered_user_ids": ("U2",),
        "recurrence": Recurrence.model_validate(recurrence) if recurrence is not None else None,
    }
    return ActivityFields.model_validate({**base, **overrides})


async def test_an_erp_with_series_says_so_in_its_capabilities(erp: ErpPort) -> None:
    """The reference ERP holds series, and GET /capabilities says so: the sync keeps series as series (R28)."""
    assert (await erp.capabilities()).series is True


async def test_a_weekly_series_is_one_activity_read_back_equal(erp: ErpPort) -> None:
    """A weekly series with a moved and a cancelled occurrence is created as one activity and read back as
    sent: recurrence typed in Graph's vocabulary, exceptions with their original starts (R28)."""
    fields = series(exceptions=(MOVED, CANCELLED))
    created = await erp.create_activity(fields, idempotency_key="series-create")
    assert await erp.get_activity(created.id) == created
    assert ActivityFields.model_validate(created.model_dump()) == fields
    assert created.recurrence is not None
    assert created.recurrence.pattern.days_of_week == ("thursday",)


async def test_moving_and_cancelling_single_occurrences_keeps_them_as_exceptions(erp: ErpPort) -> None:
    """An occurrence moved, then another cancelled (in Outlook or in the ERP): each write is a new version of the
    one series activity, whose feed entry carries the exceptions in originalStart order (R28)."""
    created = await erp.create_activity(series(), idempotency_key="series-exceptions")
    start = await erp.activity_changes(user_id="U1", cursor=None)
    moved = await erp.update_activity(created.id, ActivityPatch(exceptions=(MOVED,)), version=created.version)
    assert moved.version == created.version + 1
    assert moved.exceptions == (MOVED,)
    both = await erp.update_activity(created.id, ActivityPatch(exceptions=(CANCELLED, MOVED)), version=moved.version)
    assert both.version == moved.version + 1
    assert both.exceptions == (MOVED, CANCELLED)
    assert (both.subject, both.start, both.recurrence) == (created.subject, created.start, created.recurrence)
    changes = await erp.activity_changes(user_id="U2", cursor=start.cursor)
    assert [(change.activity_id, change.activity) for change in changes.items] == [(created.id, both)]


async def test_an_occurrence_after_a_dst_change_is_named_by_its_wall_clock(erp: ErpPort) -> None:
    """Occurrences are wall-clock times in the series' zone: after Oslo's switch to summer time the Thursday
    meeting is still at 10:00, and 11:00 (the same instant in UTC terms) names no occurrence (R28, R12)."""
    after_dst = OccurrenceException(original_start=datetime(2027, 4, 1, 10), subject="Spring check-in")
    created = await erp.create_activity(series(exceptions=(after_dst,)), idempotency_key="series-dst")
    assert created.exceptions == (after_dst,)
    shifted = OccurrenceException(original_start=datetime(2027, 4, 1, 11), cancelled=True)
    with pytest.raises(ErpInvalid):
        await erp.update_activity(created.id, ActivityPatch(exceptions=(shifted,)), version=created.version)


@pytest.mark.parametrize(
    "original_start",
    [
        datetime(2026, 12, 9, 10),  # a Wednesday
        datetime(2026, 12, 10, 11),  # a Thursday, at another time
        datetime(2026, 11, 26, 10),  # a Thursday before the series starts
        datetime(2027, 5, 6, 10),  # a Thursday after its end date
    ],
)
async def test_an_exception_naming_no_occurrence_is_invalid(erp: ErpPort, original_start: datetime) -> None:
    """An exception's originalStart must be an occurrence the pattern gives; any other is refused with 422
    (ErpInvalid), on create and on update, and nothing changes (R28)."""
    stray = OccurrenceException(original_start=original_start, cancelled=True)
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(series(exceptions=(stray,)), idempotency_key="series-stray")
    assert caught.value.status == 422
    created = await erp.create_activity(series(), idempotency_key="series-stray-ok")
    with pytest.raises(ErpInvalid):
        await erp.update_activity(created.id, ActivityPatch(exceptions=(stray,)), version=created.version)
    assert await erp.get_activity(created.id) == created


@pytest.mark.parametrize(
    "exceptions",
    [
        pytest.param((CANCELLED, CANCELLED.model_copy(update={"cancelled": False, "subject": "x"})), id="twice"),
        pytest.param((CANCELLED.model_copy(update={"subject": "Gone"}),), id="cancelled-with-changes"),
        pytest.param((MOVED.model_copy(update={"end": None}),), id="start-without-end"),
        pytest.param((MOVED.model_copy(update={"end": datetime(2026, 12, 11, 13)}),), id="end-before-start"),
        pytest.param((OccurrenceException(original_start=datetime(2026, 12, 10, 10), subject=" "),), id="blank"),
    ],
)
async def test_exceptions_breaking_the_contracts_rules_are_invalid(
    erp: ErpPort, exceptions: tuple[OccurrenceException, ...]
) -> None:
    """At most one exception per occurrence; a cancelled one carries nothing else; a moved one gives start and
    end in order; a subject is not blank. Anything else is refused with 422 → ErpInvalid (R28)."""
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(series(exceptions=exceptions), idempotency_key="series-bad-exception")
    assert str(caught.value.problem_type).endswith("/invalid-request")


async def test_exceptions_without_a_recurrence_are_invalid(erp: ErpPort) -> None:
    """Exceptions belong to a series: a single activity carrying them is refused (R28)."""
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(series(None, exceptions=(CANCELLED,)), idempotency_key="single-exc")
    assert str(caught.value.problem_type).endswith("/invalid-request")


def _with(pattern: dict[str, Any] | None = None, span: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "pattern": {**WEEKLY_THURSDAY["pattern"], **(pattern or {})},
        "range": {**WEEKLY_THURSDAY["range"], **(span or {})},
    }


@pytest.mark.parametrize(
    "recurrence",
    [
        pytest.param(_with({"daysOfWeek": []}), id="weekly-without-days"),
        pytest.param(_with({"daysOfWeek": ["thursday", "thursday"]}), id="day-twice"),
        pytest.param(_with({"type": "absoluteMonthly", "dayOfMonth": 0}), id="monthly-without-day"),
        pytest.param(_with({"type": "absoluteYearly", "dayOfMonth": 3, "month": 0}), id="yearly-without-month"),
        pytest.param(_with({"type": "relativeMonthly", "daysOfWeek": []}), id="relative-without-days"),
        pytest.param(_with(span={"startDate": "2026-12-04"}), id="start-date-not-the-series-start"),
        pytest.param(_with(span={"endDate": "2026-12-01"}), id="end-before-start"),
        pytest.param(_with(span={"endDate": None}), id="end-date-range-without-end"),
        pytest.param(_with(span={"type": "numbered", "numberOfOccurrences": 0}), id="numbered-without-count"),
        pytest.param(_with(span={"recurrenceTimeZone": "America/New_York"}), id="other-zone"),
        pytest.param(_with({"daysOfWeek": ["monday"]}, {"endDate": "2026-12-06"}), id="no-occurrence"),
        pytest.param(_with({"type": "absoluteYearly", "month": 2, "dayOfMonth": 30}), id="february-30"),
    ],
)
async def test_a_recurrence_breaking_graphs_rules_is_invalid(erp: ErpPort, recurrence: dict[str, Any]) -> None:
    """The recurrence is checked as Graph checks a patternedRecurrence (R28): 422 → ErpInvalid, naming the field."""
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(series(recurrence), idempotency_key="series-bad-recurrence")
    assert caught.value.status == 422
    assert str(caught.value.problem_type).endswith("/invalid-request")


@pytest.mark.parametrize(
    ("pattern", "span", "occurrence", "not_one"),
    [
        pytest.param(
            {"type": "daily", "interval": 2},
            {"type": "noEnd"},
            datetime(2026, 12, 7, 10),
            datetime(2026, 12, 8, 10),
            id="every-other-day",
        ),
        pytest.param(
            {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "monday"},
            {"type": "noEnd"},
            datetime(2026, 12, 14, 10),
            datetime(2026, 12, 7, 10),
            id="mondays-and-thursdays-every-other-week",
        ),
        pytest.param(
            {"type": "absoluteMonthly", "dayOfMonth": 3},
            {"type": "numbered", "numberOfOccurrences": 3},
            datetime(2027, 2, 3, 10),
            datetime(2027, 3, 3, 10),
            id="third-of-the-month-three-times",
        ),
        pytest.param(
            {
                "type": "relativeMonthly",
                "index": "first",
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            },
            {"type": "noEnd"},
            datetime(2027, 1, 1, 10),
            datetime(2027, 1, 4, 10),
            id="first-weekday-of-the-month",
        ),
        pytest.param(
            {"type": "relativeYearly", "index": "last", "daysOfWeek": ["thursday"], "month": 12},
            {"type": "noEnd"},
            datetime(2027, 12, 30, 10),
            datetime(2027, 12, 23, 10),
            id="last-thursday-of-december",
        ),
        pytest.param(
            {"type": "absoluteYearly", "dayOfMonth": 3, "month": 12},
            {"type": "endDate", "endDate": "2028-12-03"},
            datetime(2028, 12, 3, 10),
            datetime(2027, 1, 3, 10),
            id="yearly-on-the-third-of-december",
        ),
    ],
)
async def test_each_pattern_type_gives_the_occurrences_graph_gives(
    erp: ErpPort, pattern: dict[str, Any], span: dict[str, Any], occurrence: datetime, not_one: datetime
) -> None:
    """Each Graph pattern type, from a series starting Thursday 2026-12-03 10:00: an exception on one of its
    occurrences is kept, one on a day the pattern skips is refused (R28)."""
    recurrence = {"pattern": pattern, "range": {"startDate": "2026-12-03", **span}}
    kept = OccurrenceException(original_start=occurrence, cancelled=True)
    created = await erp.create_activity(series(recurrence, exceptions=(kept,)), idempotency_key="series-kind")
    assert created.exceptions == (kept,)
    stray = OccurrenceException(original_start=not_one, cancelled=True)
    with pytest.raises(ErpInvalid):
        await erp.update_activity(created.id, ActivityPatch(exceptions=(stray,)), version=created.version)


async def test_changing_the_pattern_drops_exceptions_naming_no_occurrence_any_more(erp: ErpPort) -> None:
    """A weekly series changed to every other Thursday keeps the exception of an occurrence it still has (12-17)
    and drops those of occurrences it lost (12-10, 12-24), as Graph resets exceptions with the pattern (R28)."""
    kept = OccurrenceException(original_start=datetime(2026, 12, 17, 10), subject="Mid-December check-in")
    created = await erp.create_activity(series(exceptions=(MOVED, kept, CANCELLED)), idempotency_key="series-pattern")
    every_other = Recurrence.model_validate(_with({"interval": 2}))
    changed = await erp.update_activity(created.id, ActivityPatch(recurrence=every_other), version=created.version)
    assert changed.recurrence == every_other
    assert changed.exceptions == (kept,)
    assert changed.version == created.version + 1


async def test_moving_the_whole_series_drops_the_exceptions_of_its_old_times(erp: ErpPort) -> None:
    """The whole series moved from 10:00 to 12:00: no occurrence starts at 10:00 any more, so exceptions named
    by 10:00 starts are dropped unless the same patch sends them anew (R28)."""
    created = await erp.create_activity(series(exceptions=(MOVED, CANCELLED)), idempotency_key="series-move")
    noon = ActivityPatch(start=datetime(2026, 12, 3, 12), end=datetime(2026, 12, 3, 13))
    moved = await erp.update_activity(created.id, noon, version=created.version)
    assert moved.exceptions == ()
    cancelled_at_noon = OccurrenceException(original_start=datetime(2026, 12, 24, 12), cancelled=True)
    patch = ActivityPatch(start=datetime(2026, 12, 3, 10), end=datetime(2026, 12, 3, 11), exceptions=(CANCELLED,))
    back = await erp.update_activity(created.id, patch, version=moved.version)
    assert back.exceptions == (CANCELLED,)
    with pytest.raises(ErpInvalid):
        await erp.update_activity(created.id, ActivityPatch(exceptions=(cancelled_at_noon,)), version=back.version)


async def test_exceptions_in_a_patch_replace_the_whole_list(erp: ErpPort) -> None:
    """PATCH ``exceptions`` replaces the list: the moved occurrence put back (left out), another cancelled (R28)."""
    created = await erp.create_activity(series(exceptions=(MOVED, CANCELLED)), idempotency_key="series-replace")
    later = OccurrenceException(original_start=datetime(2027, 1, 7, 10), cancelled=True)
    replaced = await erp.update_activity(
        created.id, ActivityPatch(exceptions=(later, CANCELLED)), version=created.version
    )
    assert replaced.exceptions == (CANCELLED, later)
    cleared = await erp.update_activity(created.id, ActivityPatch(exceptions=()), version=replaced.version)
    assert cleared.exceptions == ()
    assert cleared.recurrence == created.recurrence


async def test_recurrence_null_makes_a_single_activity_without_exceptions(erp: ErpPort) -> None:
    """``recurrence: null`` turns the series into one single activity (its first occurrence's times) and clears
    its exceptions; a patch that keeps exceptions for no series is refused (R28)."""
    created = await erp.create_activity(series(exceptions=(MOVED,)), idempotency_key="series-single")
    with pytest.raises(ErpInvalid):
        await erp.update_activity(
            created.id, ActivityPatch(recurrence=None, exceptions=(MOVED,)), version=created.version
        )
    single = await erp.update_activity(created.id, ActivityPatch(recurrence=None), version=created.version)
    assert (single.recurrence, single.exceptions) == (None, ())
    assert (single.start, single.end) == (created.start, created.end)


async def test_an_erp_without_series_says_so_and_refuses_a_recurrence(erp_without_series: ErpPort) -> None:
    """An ERP without series support answers ``series: false`` and refuses an activity with a recurrence (422
    ``series-not-supported`` → ErpInvalid), on create and on update; single activities work as ever (R28)."""
    erp = erp_without_series
    assert (await erp.capabilities()).series is False
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(series(), idempotency_key="no-series")
    assert caught.value.status == 422
    assert str(caught.value.problem_type).endswith("/series-not-supported")
    single = await erp.create_activity(series(None), idempotency_key="no-series-single")
    assert single.recurrence is None
    recurrence = Recurrence.model_validate(WEEKLY_THURSDAY)
    with pytest.raises(ErpInvalid) as again:
        await erp.update_activity(single.id, ActivityPatch(recurrence=recurrence), version=single.version)
    assert str(again.value.problem_type).endswith("/series-not-supported")
    assert await erp.get_activity(single.id) == single


# --- HttpErp and the wire ----------------------------------------------------------------------------------


def _counting(status: int, body: dict[str, Any]) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(answer), seen


async def test_capabilities_are_read_once_per_adapter() -> None:
    """HttpErp asks GET /capabilities on its first call and keeps the answer: the sync asks per item, the ERP
    is asked once (R28)."""
    transport, seen = _counting(200, {"series": True})
    async with HttpErp("http://erp.invalid", api_key="key-for-tests-1234", transport=transport) as client:
        answers = [await client.capabilities() for _ in range(3)]
    assert [answer.series for answer in answers] == [True, True, True]
    assert seen == ["/capabilities"]


async def test_an_older_erp_without_capabilities_is_one_without_series() -> None:
    """An ERP older than GET /capabilities answers 404: HttpErp takes it as one without series, asked once (R28)."""
    transport, seen = _counting(404, {"type": "about:blank", "title": "Not Found", "status": 404})
    async with HttpErp("http://erp.invalid", api_key="key-for-tests-1234", transport=transport) as client:
        assert (await client.capabilities()).series is False
        assert (await client.capabilities()).series is False
    assert seen == ["/capabilities"]


async def test_capabilities_on_the_wire(raw: httpx.AsyncClient) -> None:
    """GET /capabilities answers ``{"series": true}`` as JSON behind the API key (R28)."""
    answer = await raw.get("/capabilities")
    assert answer.status_code == 200
    assert answer.json()["series"] is True


@pytest.mark.parametrize(
    ("where", "value", "pointer"),
    [
        ("exception", "2026-12-10T10:00:00+01:00", "/exceptions/0/originalStart"),
        ("exception", "2026-12-10T10:00", "/exceptions/0/originalStart"),
        ("range", "2026-12-03T00:00:00", "/recurrence/range/startDate"),
    ],
)
async def test_series_times_spelled_otherwise_than_the_contract_are_refused(
    raw: httpx.AsyncClient, where: str, value: str, pointer: str
) -> None:
    """An exception's times are LocalDateTime and the range's dates LocalDate, as the contract spells them; an
    offset, missing seconds or a time in a date is refused with 422 naming the field (R28)."""
    body = series(exceptions=(CANCELLED,)).model_dump(by_alias=True, mode="json")
    if where == "exception":
        body["exceptions"][0]["originalStart"] = value
    else:
        body["recurrence"]["range"]["startDate"] = value
    answer = await raw.post("/activities", json=body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == pointer
