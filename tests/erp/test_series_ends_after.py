"""``endsAfter`` for a recurring series (R4, R28, R29): a series ends with its last occurrence, not its first.

The feed's snapshot keeps "records that end after this instant" (docs/erp-sync-api.yaml). A series activity's own
``start``/``end`` are its first occurrence's; the reference ERP once filtered by those, so a snapshot (the sync's
first pull, the close job's nightly read) dropped a series whose first occurrence was over but whose later ones
were still to come, and the close job never saw such a series again once it had ended.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.core.activities import ActivityFields, Recurrence
from shared.erp.port import ErpPort

THREE_THURSDAYS: dict[str, Any] = {
    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"], "firstDayOfWeek": "monday"},
    "range": {"type": "numbered", "startDate": "2026-12-03", "numberOfOccurrences": 3},
}


def _series(recurrence: dict[str, Any]) -> ActivityFields:
    """Thursdays 10:00-11:00 in Oslo from 3 December 2026."""
    return ActivityFields.model_validate(
        {
            "type": "meeting",
            "subject": "Project check-in",
            "start": datetime(2026, 12, 3, 10),
            "end": datetime(2026, 12, 3, 11),
            "time_zone": "Europe/Oslo",
            "owner_id": "U1",
            "recurrence": Recurrence.model_validate(recurrence),
        }
    )


async def _snapshot_ids(erp: ErpPort, ends_after: datetime) -> set[str]:
    page = await erp.activity_changes(user_id="U1", cursor=None, ends_after=ends_after)
    return {change.activity_id for change in page.items}


async def test_R28_a_series_is_in_the_snapshot_until_its_last_occurrence_has_ended(erp: ErpPort) -> None:
    """Three Thursdays, 3 to 17 December: a snapshot of what ends after 10 December holds the series (its first
    occurrence is over, two are not); one of what ends after 17 December 11:00 Oslo time does not."""
    made = await erp.create_activity(_series(THREE_THURSDAYS), idempotency_key="series-ends-after-1")
    assert made.id in await _snapshot_ids(erp, datetime(2026, 12, 10, tzinfo=UTC))
    assert made.id not in await _snapshot_ids(erp, datetime(2026, 12, 17, 10, 30, tzinfo=UTC))


async def test_R28_a_series_with_no_end_is_always_in_the_snapshot(erp: ErpPort) -> None:
    """A weekly series with no end never ends: every snapshot holds it."""
    endless = {**THREE_THURSDAYS, "range": {"type": "noEnd", "startDate": "2026-12-03"}}
    made = await erp.create_activity(_series(endless), idempotency_key="series-ends-after-2")
    assert made.id in await _snapshot_ids(erp, datetime(2030, 1, 1, tzinfo=UTC))
