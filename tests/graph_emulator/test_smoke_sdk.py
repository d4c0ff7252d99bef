"""msgraph-sdk end to end on the emulator."""

from __future__ import annotations

from msgraph import GraphServiceClient
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event


async def test_sdk_creates_and_reads_an_event(graph: GraphServiceClient, alice: str) -> None:
    """POST then GET an event through msgraph-sdk (https://learn.microsoft.com/en-us/graph/api/user-post-events)."""
    body = Event(
        subject="Plan",
        start=DateTimeTimeZone(date_time="2026-12-01T10:00:00", time_zone="UTC"),
        end=DateTimeTimeZone(date_time="2026-12-01T11:00:00", time_zone="UTC"),
    )
    created = await graph.users.by_user_id(alice).events.post(body)
    assert created is not None
    assert created.id
    got = await graph.users.by_user_id(alice).events.by_event_id(created.id).get()
    assert got is not None
    assert got.subject == "Plan"
    assert got.start.date_time == "2026-12-01T10:00:00.0000000"
