"""Event writes in Graph JSON batches, through msgraph-core's batch content and msgraph-sdk's adapter.

Page "Combine multiple requests in one HTTP call using JSON batching"
(https://learn.microsoft.com/en-us/graph/json-batching): at most 20 requests a batch, each answered on its own
(status, headers, body), in any order; an item runs after the items it ``dependsOn`` and is answered 424 when
one of them failed; each item counts against throttling and can get its own 429. Page "Microsoft Graph
throttling limits" (https://learn.microsoft.com/en-us/graph/throttling-limits), Outlook service: 4 concurrent
requests per app and mailbox. So a batch of writes is sent as 4 ``dependsOn`` chains (item i after item i-4):
never more than 4 of its requests run at once; reads, often answered 404, go 4 to a batch without chains.
Items answered 429/503/504 are sent again after their ``Retry-After`` (a few times), items not run (424)
until they run; the others get their result or error.

msgraph-core's helpers are used with two corrections (graph-facts §5): item URLs made relative
(``BatchRequestItem.set_url``; an absolute one is a 400, msgraph-sdk-python#1015), and ``dependsOn`` written
under that name (msgraph-core writes ``depends_on``, which Graph ignores). The answer is read as JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from kiota_abstractions.request_adapter import RequestAdapter
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.serialization import SerializationWriter
from msgraph_core.requests.batch_request_builder import BatchRequestBuilder
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from shared.errors import GraphError, GraphTransient
from shared.graph.events_json import event_from_json
from shared.graph.port import EventChange, EventChangeResult
from shared.graph.wire import error_code, graph_error, send_json, with_stamp

MAX_BATCH = BatchRequestContent.MAX_REQUESTS  # 20
CHAINS = 4  # concurrent requests per mailbox
ROUNDS = 4  # batches an item may take: the first and 3 more for throttled or not-run items
_AGAIN = (429, 503, 504)
Sleep = Callable[[float], Awaitable[None]]


class _Item(BatchRequestItem):
    """msgraph-core's batch item, writing ``dependsOn`` as Graph names it."""

    def serialize(self, writer: SerializationWriter) -> None:
        depends_on = list(self.depends_on or [])
        self._depends_on = []
        try:
            super().serialize(writer)
        finally:
            self._depends_on = depends_on
        if depends_on:
            writer.write_collection_of_primitive_values("dependsOn", depends_on)


async def send_batches(
    adapter: RequestAdapter,
    changes: Sequence[EventChange],
    build: Callable[[EventChange], RequestInformation],
    *,
    chained: bool = True,
    sleep: Sleep = asyncio.sleep,
) -> list[EventChangeResult]:
    """Every change's result, in order. ``chained``: batches of 20 as 4 ``dependsOn`` chains (writes: a failure
    is rare, and its chain's rest, answered 424, is simply sent again); otherwise batches of 4 independent
    requests (reads, where a 404 is a common answer and would fail its chain's rest). Items throttled are sent
    again after their ``Retry-After``, ``ROUNDS`` times at most; items not run (424) until they run."""
    results: list[EventChangeResult | None] = [None] * len(changes)
    size = MAX_BATCH if chained else CHAINS
    for first in range(0, len(changes), size):
        todo = list(range(first, min(first + size, len(changes))))
        throttled_rounds = 0
        while todo:
            again, wait = await _one_batch(adapter, changes, build, todo, results, chained=chained)
            todo = again
            if wait:  # something was throttled (a 424 alone never waits: it did not run)
                throttled_rounds += 1
                if throttled_rounds >= ROUNDS:
                    break
                await sleep(wait)
        for index in todo:
            if results[index] is None:
                results[index] = EventChangeResult(
                    error=GraphTransient("Graph kept throttling a batch item", status=429)
                )
    return [r if r is not None else EventChangeResult(error=GraphError("no answer")) for r in results]


async def _one_batch(
    adapter: RequestAdapter,
    changes: Sequence[EventChange],
    build: Callable[[EventChange], RequestInformation],
    todo: list[int],
    results: list[EventChangeResult | None],
    *,
    chained: bool,
) -> tuple[list[int], float]:
    """Send ``todo`` (indexes into ``changes``) as one batch; fill ``results``; return what to send again and
    how long to wait first (the longest ``Retry-After`` among them)."""
    content = BatchRequestContent()
    for position, index in enumerate(todo):
        item = _Item(
            request_information=build(changes[index]),
            id=str(index),
            depends_on=[str(todo[position - CHAINS])] if chained and position >= CHAINS else [],
        )
        item.set_url(item.url)
        content.add_request(item.id, item)
    info = await BatchRequestBuilder(adapter).to_post_request_information(content)
    answer = await send_json(adapter, info)
    answers = {str(r.get("id")): r for r in (answer or {}).get("responses") or [] if isinstance(r, dict)}
    again: list[int] = []
    wait = 0.0
    for index in todo:
        reply = answers.get(str(index))
        if reply is None:  # Graph answered every request it was sent; one missing is sent again, after a wait
            again.append(index)
            wait = max(wait, 1.0)
            continue
        status = int(reply.get("status") or 0)
        headers = {str(k): str(v) for k, v in (reply.get("headers") or {}).items()}
        if status == 424:  # not run: its dependency failed
            again.append(index)
            continue
        if status in _AGAIN:
            again.append(index)
            retry_after = {k.lower(): v for k, v in headers.items()}.get("retry-after", "")
            wait = max(wait, float(retry_after) if retry_after.isdigit() else 1.0)
            continue
        results[index] = _result(changes[index], status, reply.get("body"), headers)
    return again, wait


def _result(change: EventChange, status: int, body: Any, headers: dict[str, str]) -> EventChangeResult:
    if change.kind == "delete" or (change.kind == "read" and status == 404):
        if status < 300 or status == 404:  # an event already gone is deleted (as ``delete_event``); read: None
            return EventChangeResult()
        return EventChangeResult(error=graph_error(status, error_code(body), headers))
    if status >= 300 or not isinstance(body, dict):
        return EventChangeResult(error=graph_error(status, error_code(body), headers))
    event = event_from_json(body)
    return EventChangeResult(event=with_stamp(event, change.write) if change.write else event)
