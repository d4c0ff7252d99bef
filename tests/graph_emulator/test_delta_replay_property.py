"""Replaying delta rounds reproduces the calendar view, whatever the changes (https://learn.microsoft.com/en-us/graph/delta-query-events)."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulators.graph import EmulatorConfig, create_app
from tests.graph_emulator.helpers import BASE, create, event_body, fetch_token, read_delta

WINDOW = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2026-12-15T00:00:00Z"
DAYS = st.integers(min_value=-3, max_value=20)  # some changes land outside the window on purpose
STEP = st.one_of(
    st.tuples(st.just("create"), DAYS, st.booleans()),
    st.tuples(st.just("move"), st.integers(0, 50), DAYS),
    st.tuples(st.just("rename"), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("sync"), st.integers(1, 4)),
)


def _day(offset: int) -> str:
    return f"2026-{12 if offset >= 0 else 11}-{(offset + 1) if offset >= 0 else 30 + offset:02d}"


def _series(day: str) -> dict[str, Any]:
    return {
        "pattern": {"type": "daily", "interval": 2},
        "range": {"type": "numbered", "startDate": day, "numberOfOccurrences": 3},
    }


async def _sync(http: httpx.AsyncClient, link: str | None, seen: dict[str, str], page_size: int) -> str:
    url = link or f"/v1.0/users/u@contoso.com/calendarView/delta?{WINDOW}"
    items, new_link = await read_delta(http, url, Prefer=f"odata.maxpagesize={page_size}")
    for item in items:
        if "@removed" in item:
            seen.pop(item["id"], None)
        else:
            seen[item["id"]] = item["changeKey"]
    return new_link


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=12))
async def test_client_state_built_from_deltas_matches_the_view(steps: list[tuple[Any, ...]]) -> None:
    """Following every round to its deltaLink leaves the client with exactly the view's instances and changeKeys (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    app = create_app(EmulatorConfig())
    app.state.emulator.add_user("u@contoso.com", "U")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        http.headers["Authorization"] = f"Bearer {await fetch_token(http)}"
        user = "u@contoso.com"
        ids: list[str] = []
        seen: dict[str, str] = {}
        link: str | None = None
        for step in [*steps, ("sync", 3)]:
            kind = step[0]
            if kind == "create":
                day = _day(step[1])
                extra = {"recurrence": _series(day)} if step[2] else {}
                ev = await create(http, user, event_body("e", f"{day}T10:00:00", f"{day}T11:00:00", **extra))
                ids.append(ev["id"])
            elif kind == "sync":
                link = await _sync(http, link, seen, step[1])
            elif ids:
                target = ids[step[1] % len(ids)]
                if kind == "delete":
                    await http.delete(f"/v1.0/users/{user}/events/{target}")
                    ids.remove(target)
                elif kind == "rename":
                    await http.patch(f"/v1.0/users/{user}/events/{target}", json={"subject": "renamed"})
                else:
                    day = _day(step[2])
                    await http.patch(
                        f"/v1.0/users/{user}/events/{target}",
                        json={
                            "start": {"dateTime": f"{day}T08:00:00", "timeZone": "UTC"},
                            "end": {"dateTime": f"{day}T09:00:00", "timeZone": "UTC"},
                        },
                    )
        view = (await http.get(f"/v1.0/users/{user}/calendarView?{WINDOW}&$top=1000")).json()["value"]
    assert seen == {e["id"]: e["changeKey"] for e in view}
