"""``shared.graph.attachments.upload_ranges``: the ranged upload both calendars share, on a scripted session.

The session follows page "Attach large files to Outlook messages or events"
(https://learn.microsoft.com/en-us/graph/outlook-large-attachments): bytes in order, 200 with the next expected
byte, 201 with ``Location`` for the last range; a range that does not start at the next expected byte is refused
with the byte it expects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.errors import GraphTransient
from shared.graph.attachments import RANGE_SIZE, RangeAnswer, upload_ranges


class Session:
    """An upload session that can lose its answers (the bytes arrive, the client sees a failure)."""

    def __init__(self, size: int, *, lose_answers: int = 0, fail: int = 0) -> None:
        self.size = size
        self.received = bytearray()
        self.lose_answers = lose_answers
        self.fail = fail
        self.puts: list[tuple[int, int]] = []

    async def put(self, data: bytes, start: int, total: int) -> RangeAnswer:
        self.puts.append((start, len(data)))
        assert total == self.size
        if self.fail:
            self.fail -= 1
            return RangeAnswer(503, {"Retry-After": "0"}, None)
        if start != len(self.received):
            body = {"error": {"code": "InvalidRange", "nextExpectedRanges": [str(len(self.received))]}}
            return RangeAnswer(416, {}, body)
        self.received.extend(data)
        if self.lose_answers:
            self.lose_answers -= 1
            raise GraphTransient("connection reset")
        if len(self.received) == self.size:
            return RangeAnswer(201, {"Location": "https://x/Users('u')/Events('e')/Attachments('A1')"}, None)
        return RangeAnswer(200, {}, {"nextExpectedRanges": [str(len(self.received))]})


async def _stream(data: bytes) -> AsyncIterator[bytes]:
    for at in range(0, len(data), 1_000_000):
        yield data[at : at + 1_000_000]


async def _no_wait(seconds: float) -> None:
    return None


async def test_ranges_are_sent_in_order_and_the_location_returned() -> None:
    """Ranges of RANGE_SIZE (under 4 MB, "up to 4 MB each time") in order; the Location comes back."""
    data = bytes(range(256)) * 40_000  # 10,240,000 bytes
    session = Session(len(data))
    location = await upload_ranges(session.put, _stream(data), len(data), _no_wait)
    assert location.endswith("Attachments('A1')")
    assert bytes(session.received) == data
    assert [start for start, _ in session.puts] == [0, RANGE_SIZE, 2 * RANGE_SIZE]


async def test_a_lost_answer_is_resumed_from_the_next_expected_byte() -> None:
    """The bytes of a range arrived but the answer was lost: the range is sent again, the 416 names the next
    expected byte, and the upload goes on from there without sending bytes twice."""
    data = bytes(9 * 1024 * 1024)
    session = Session(len(data), lose_answers=1)
    await upload_ranges(session.put, _stream(data), len(data), _no_wait)
    assert bytes(session.received) == data
    assert session.puts[:3] == [(0, RANGE_SIZE), (0, RANGE_SIZE), (RANGE_SIZE, RANGE_SIZE)]


async def test_a_range_failing_every_time_gives_up() -> None:
    """A range that keeps failing (503) is sent four times, then the error is raised for the sync to retry later."""
    data = bytes(4 * 1024 * 1024)
    session = Session(len(data), fail=10)
    with pytest.raises(GraphTransient):
        await upload_ranges(session.put, _stream(data), len(data), _no_wait)
    assert len(session.puts) == 4
