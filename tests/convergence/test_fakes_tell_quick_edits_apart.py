"""The fakes the machine runs on tell two edits of one record within a second apart, as the real services do
(issue 9): the ERP keeps whole seconds in ``modified_at`` but gives each write a version and a feed ``seq``;
Graph gives each edit a ``changeKey`` and keeps ``lastModifiedDateTime`` below the second. The machine's
rules ``erp_renames_twice_within_a_second`` and ``organizer_renames_twice_within_a_second`` rely on this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from emulators.fakes.stack import FakeStack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"


@pytest.fixture
async def stack() -> AsyncIterator[FakeStack]:
    started = await FakeStack.start()
    try:
        await started.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
        yield started
    finally:
        await started.aclose()


def _times(days: int) -> tuple[str, str]:
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0, tzinfo=None) + timedelta(days=days)
    return start.isoformat(), (start + timedelta(hours=1)).isoformat()


async def test_two_erp_writes_in_one_second_are_two_versions_and_two_feed_entries(stack: FakeStack) -> None:
    """R5: the ERP's clock held within one second, a rename and its correction share ``modified_at`` but are
    versions 2 and 3, and a feed cursor taken after the first brings the second (the feed goes by ``seq``)."""
    start, end = _times(3)
    body = {"type": "meeting", "subject": "Budget", "start": start, "end": end, "ownerId": USER, "state": "confirmed"}
    made = (await stack.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": "quick-1"})).json()
    store = stack.erp_app.state.store
    store.clock = lambda: datetime(2026, 12, 2, 10, 0, 0, 400_000, tzinfo=UTC)
    first = (
        await stack.erp_call("PATCH", f"/activities/{made['id']}", json={"subject": "Q3"}, headers={"If-Match": '"1"'})
    ).json()
    between = await stack.erp.activity_changes(user_id=USER, cursor=None)
    store.clock = lambda: datetime(2026, 12, 2, 10, 0, 0, 900_000, tzinfo=UTC)
    second = (
        await stack.erp_call("PATCH", f"/activities/{made['id']}", json={"subject": "Q4"}, headers={"If-Match": '"2"'})
    ).json()
    assert (first["version"], second["version"]) == (2, 3)
    assert first["modifiedAt"] == second["modifiedAt"]
    after = await stack.erp.activity_changes(user_id=USER, cursor=between.cursor)
    assert [(c.activity.subject, c.activity.version) for c in after.items if c.activity] == [("Q4", 3)]
    assert after.items[0].seq > max(c.seq for c in between.items)


async def test_two_outlook_edits_in_one_second_differ_by_change_key_and_sub_second_time(stack: FakeStack) -> None:
    """R5/R6: two renames of one event within a second get distinct ``changeKey`` values and increasing
    ``lastModifiedDateTime`` below the second, and the fake calendar port keeps that precision."""
    start, end = _times(4)
    times = {"start": {"dateTime": start, "timeZone": "UTC"}, "end": {"dateTime": end, "timeZone": "UTC"}}
    made = (await stack.outlook("POST", f"/users/{MAILBOX}/events", json={"subject": "Budget", **times})).json()
    path = f"/users/{MAILBOX}/events/{made['id']}"
    first = (await stack.outlook("PATCH", path, json={"subject": "Q3"})).json()
    seen_first = await stack.calendar.get_event(MAILBOX, made["id"])
    second = (await stack.outlook("PATCH", path, json={"subject": "Q4"})).json()
    seen_second = await stack.calendar.get_event(MAILBOX, made["id"])
    assert first["changeKey"] != second["changeKey"]
    assert first["lastModifiedDateTime"] < second["lastModifiedDateTime"]
    assert seen_first.change_key != seen_second.change_key
    assert seen_first.last_modified is not None
    assert seen_second.last_modified is not None
    assert timedelta(0) < seen_second.last_modified - seen_first.last_modified < timedelta(seconds=1)
