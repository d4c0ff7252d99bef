"""Which user each of our Graph subscriptions belongs to, kept in the process (issue 12, item 7).

Graph wants a notification answered within 3 s and counts answers over about 2.9 s as slow (graph-facts §2;
page "Set up notifications for changes in resource data",
https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks). A point read of the state
per notification made a burst of 100 queue up behind Table Storage, so the map of all subscriptions is read
in one query and kept for ``TTL_SECONDS``; a subscription it does not know (a new one) reloads it, at most
once every ``RELOAD_AFTER_SECONDS``, and meanwhile is read on its own. An id not of ours stays unknown.
A deleted subscription may still be known for up to a minute: that only queues one needless sync.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Iterable

from shared.errors import StateLimitExceeded
from shared.state.model import SubscriptionRecord
from shared.state.port import StateStore

TTL_SECONDS = 60.0
RELOAD_AFTER_SECONDS = 5.0


class SubscriptionMap:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._known: dict[str, SubscriptionRecord] = {}
        self._loaded_at: float | None = None
        self._loading: asyncio.Lock | None = None

    async def owners(self, state: StateStore, ids: Iterable[str]) -> dict[str, SubscriptionRecord | None]:
        """Each id's record, or None when it is not one of ours (one query for a whole burst, or none)."""
        wanted = set(ids)
        now = self._clock()
        if (
            self._loaded_at is None
            or now - self._loaded_at > TTL_SECONDS
            or (wanted - self._known.keys() and now - self._loaded_at > RELOAD_AFTER_SECONDS)
        ):
            await self._reload(state, now)
        found: dict[str, SubscriptionRecord | None] = {}
        for sub_id in wanted:
            record = self._known.get(sub_id)
            if record is None:
                record = await _point_read(state, sub_id)
                if record is not None:
                    self._known[sub_id] = record
            found[sub_id] = record
        return found

    async def _reload(self, state: StateStore, now: float) -> None:
        if self._loading is None:
            self._loading = asyncio.Lock()
        stamp = self._loaded_at
        async with self._loading:
            if self._loaded_at != stamp:  # a concurrent request reloaded it meanwhile
                return
            self._known = {r.subscription_id: r for r in await state.subscriptions()}
            self._loaded_at = now


async def _point_read(state: StateStore, subscription_id: str) -> SubscriptionRecord | None:
    try:
        return await state.get_subscription(subscription_id)
    except StateLimitExceeded:
        return None


_MAPS: weakref.WeakKeyDictionary[object, SubscriptionMap] = weakref.WeakKeyDictionary()


def subscription_map(state: StateStore) -> SubscriptionMap:
    """The map of this state store (one per process and deployment)."""
    try:
        found = _MAPS.get(state)
        if found is None:
            found = _MAPS[state] = SubscriptionMap()
        return found
    except TypeError:  # a store that cannot be a weak key keeps no map
        return SubscriptionMap()
