"""Calendar-view delta (page "event: delta"): the window is fixed in the token, pages are replayed by link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from emulators.graph import ids
from emulators.graph.errors import GraphError
from emulators.graph.events import Instance
from emulators.graph.model import DeltaState, User
from emulators.graph.state import EmulatorState

Render = Callable[[Instance], dict[str, Any]]


def sync_state_not_found() -> GraphError:
    return GraphError(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found; the delta token is expired or invalid. Restart the sync.",
    )


def removed(event_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}}


def _changes(
    state: EmulatorState, user: User, st: DeltaState, render: Render
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Items the client has not seen yet, and the snapshot after it sees them."""
    current = state.calendar_view(user, st.window_start, st.window_end)
    snapshot = {inst.id: inst.change_key for inst in current}
    items = [render(inst) for inst in current if st.known.get(inst.id) != inst.change_key]
    # Deleted events and events that left the window look the same to the client: "deleted".
    items.extend(removed(gone) for gone in st.known if gone not in snapshot)
    return items, snapshot


def start(
    state: EmulatorState, user: User, user_segment: str, window_start: datetime, window_end: datetime
) -> DeltaState:
    """A fresh delta round: the client has seen nothing of the window yet."""
    if window_end <= window_start:
        raise GraphError(400, "ErrorInvalidParameter", "The endDateTime must be after the startDateTime.")
    return DeltaState(
        mailbox_id=user.id,
        user_segment=user_segment,
        window_start=window_start,
        window_end=window_end,
        generation=state.delta_generation,
        known={},
    )


def lookup(state: EmulatorState, token: str) -> DeltaState:
    st = state.delta_states.get(token)
    if st is None or st.generation != state.delta_generation:
        raise sync_state_not_found()
    return st


def page(
    state: EmulatorState,
    user: User,
    st: DeltaState,
    *,
    fresh: bool,
    page_size: int,
    render: Render,
) -> tuple[list[dict[str, Any]], str, str]:
    """One page: ``(items, "skiptoken" | "deltatoken", token)``.

    ``fresh`` means a first call or a deltaLink replay: compute the changes now. A skip token continues
    the pending list computed when the round began.
    """
    if fresh:
        items, snapshot = _changes(state, user, st, render)
        st = replace(st, known=snapshot, pending=items, page_size=page_size)
    out, rest = st.pending[:page_size], st.pending[page_size:]
    token = ids.new_token()
    following = replace(st, pending=rest, page_size=page_size)
    state.delta_states[token] = following
    # The first page of a round always links on (Graph returns a nextLink even for a small result).
    kind = "skiptoken" if rest or (fresh and out) else "deltatoken"
    return out, kind, token
