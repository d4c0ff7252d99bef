"""The ``CalendarPort`` attachment contract (R18), for ``GraphCalendar`` and ``InProcessCalendar`` alike.

Pages: "Add attachment" (https://learn.microsoft.com/en-us/graph/api/event-post-attachments), "attachment:
createUploadSession" (https://learn.microsoft.com/en-us/graph/api/attachment-createuploadsession), "Attach large
files to Outlook messages or events" (https://learn.microsoft.com/en-us/graph/outlook-large-attachments), "Get
attachment" (https://learn.microsoft.com/en-us/graph/api/attachment-get), "Delete attachment"
(https://learn.microsoft.com/en-us/graph/api/attachment-delete).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph.generated.models.attachment_item import AttachmentItem
from msgraph.generated.models.attachment_type import AttachmentType
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.users.item.events.item.attachments.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody,
)

from shared.core.attachments import FileMeta
from shared.core.m365 import EventWrite
from shared.errors import GraphNotFound, GraphTooLarge
from shared.graph.attachments import file_json, session_json
from tests.graph_port.conftest import Side

ALICE = "alice@contoso.com"
MB = 1024 * 1024


async def _event(side: Side) -> str:
    write = EventWrite(
        subject="Site visit", start=datetime(2026, 12, 3, 9), end=datetime(2026, 12, 3, 10), time_zone="Europe/Oslo"
    )
    return (await side.calendar.create_event(ALICE, write)).id


async def _pieces(data: bytes, size: int = 700_000) -> AsyncIterator[bytes]:
    """The file as a stream of uneven pieces, as an ERP download delivers it."""
    for at in range(0, len(data), size):
        yield data[at : at + size]


async def _read(side: Side, event_id: str, attachment_id: str) -> bytes:
    return b"".join([piece async for piece in side.calendar.read_event_attachment(ALICE, event_id, attachment_id)])


def _requests(side: Side) -> list[tuple[str, str, int]]:
    return [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in side.emulator.state.requests]


async def test_a_small_file_travels_in_one_post(side: Side) -> None:
    """Under 3 MB one POST attaches the file; the list ($select, no bytes) and $value give it back (pages "Add
    attachment", "Get attachment")."""
    event_id = await _event(side)
    data = os.urandom(MB)
    side.emulator.state.requests.clear()
    added = await side.calendar.add_event_attachment(
        ALICE, event_id, FileMeta(name="plan.pdf", content_type="application/pdf", size=len(data)), _pieces(data)
    )
    assert _requests(side) == [("POST", "attachments", 201)]
    assert (added.name, added.content_type, added.size, added.is_inline) == ("plan.pdf", "application/pdf", MB, False)
    [listed] = await side.calendar.event_attachments(ALICE, event_id)
    assert listed == added
    assert await _read(side, event_id, added.id) == data
    assert (await side.calendar.get_event(ALICE, event_id)).has_attachments


async def test_ten_megabytes_go_through_an_upload_session(side: Side) -> None:
    """From 3 MB: createUploadSession, then PUTs of at most 4 MB without a token, the last answering 201 with the
    attachment's id in Location (page "Attach large files"): 1 + 3 requests for 10 MB."""
    event_id = await _event(side)
    data = os.urandom(10 * MB)
    side.emulator.state.requests.clear()
    added = await side.calendar.add_event_attachment(
        ALICE, event_id, FileMeta(name="scan.tiff", content_type="image/tiff", size=len(data)), _pieces(data)
    )
    requests = _requests(side)
    assert requests[0] == ("POST", "createUploadSession", 201)
    assert [status for method, _, status in requests[1:] if method == "PUT"] == [200, 200, 201]
    assert len(requests) == 4
    assert (added.name, added.size) == ("scan.tiff", len(data))
    assert [a.id for a in await side.calendar.event_attachments(ALICE, event_id)] == [added.id]
    assert await _read(side, event_id, added.id) == data


async def test_a_failed_range_is_sent_again(side: Side) -> None:
    """A PUT that fails (503 injected through /_emulator/faults) is sent again from the byte the session expects
    next, and the upload completes with the same bytes (page "attachment: createUploadSession": ranged PUTs let
    the transfer resume)."""
    event_id = await _event(side)
    data = os.urandom(5 * MB)
    fault = {"method": "PUT", "path": "AttachmentSessions", "status": 503, "count": 1, "retryAfter": 0}
    await side.control("POST", "/faults", json=fault)
    side.emulator.state.requests.clear()
    added = await side.calendar.add_event_attachment(
        ALICE, event_id, FileMeta(name="big.bin", size=len(data)), _pieces(data)
    )
    puts = [status for method, _, status in _requests(side) if method == "PUT"]
    assert puts == [503, 200, 201]
    assert await _read(side, event_id, added.id) == data


async def test_removal_and_removal_of_a_removed_file(side: Side) -> None:
    """DELETE …/attachments/{id} removes the file; a second removal (404) is no error (page "Delete
    attachment")."""
    event_id = await _event(side)
    added = await side.calendar.add_event_attachment(ALICE, event_id, FileMeta(name="a.txt", size=3), _pieces(b"abc"))
    await side.calendar.remove_event_attachment(ALICE, event_id, added.id)
    assert await side.calendar.event_attachments(ALICE, event_id) == ()
    await side.calendar.remove_event_attachment(ALICE, event_id, added.id)
    assert not (await side.calendar.get_event(ALICE, event_id)).has_attachments


async def test_more_than_150_megabytes_is_refused_before_a_byte_is_sent(side: Side) -> None:
    """Graph attaches at most 150 MB to an event (page "Attach large files"): a larger file is GraphTooLarge and
    neither a request is sent nor a byte read."""
    event_id = await _event(side)

    async def unreadable() -> AsyncIterator[bytes]:
        raise AssertionError("the file must not be read")
        yield b""  # pragma: no cover

    side.emulator.state.requests.clear()
    with pytest.raises(GraphTooLarge):
        await side.calendar.add_event_attachment(
            ALICE, event_id, FileMeta(name="huge.iso", size=151 * MB), unreadable()
        )
    assert side.emulator.state.requests == []


async def test_a_file_shorter_than_its_metadata_cancels_the_session(side: Side) -> None:
    """Bytes fewer than the metadata's size cannot complete the session: it is cancelled (DELETE on the upload
    URL, page "Attach large files", Alternative) and no attachment appears."""
    event_id = await _event(side)
    data = os.urandom(4 * MB)
    with pytest.raises(ValueError, match="bytes"):
        await side.calendar.add_event_attachment(
            ALICE, event_id, FileMeta(name="cut.bin", size=len(data) + 10), _pieces(data)
        )
    assert side.emulator.state.upload_sessions == {}
    assert await side.calendar.event_attachments(ALICE, event_id) == ()


def _sdk_json(model: Parsable) -> dict[str, Any]:
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    parsed: dict[str, Any] = json.loads(writer.get_serialized_content())
    return parsed


def test_the_fake_sends_the_bodies_msgraph_sdk_serialises() -> None:
    """The fake's POST bodies equal msgraph-sdk's ``FileAttachment`` and ``CreateUploadSessionPostRequestBody``
    (``AttachmentItem``, page "attachmentItem resource type"), so both calendars send the same requests."""
    meta = FileMeta(name="r.pdf", content_type="application/pdf", size=4 * MB)
    small = FileAttachment(name="r.pdf", content_type="application/pdf", content_bytes=b"%PDF-1.7", is_inline=False)
    assert file_json(meta, b"%PDF-1.7") == _sdk_json(small)
    item = AttachmentItem(
        attachment_type=AttachmentType.File, name="r.pdf", size=4 * MB, content_type="application/pdf"
    )
    assert session_json(meta) == _sdk_json(CreateUploadSessionPostRequestBody(attachment_item=item))


async def test_files_of_a_missing_event_or_a_missing_file_are_not_found(side: Side) -> None:
    """The list of a deleted event and the bytes of an unknown file answer 404 ErrorItemNotFound: GraphNotFound
    (pages "List attachments", "Get attachment")."""
    event_id = await _event(side)
    with pytest.raises(GraphNotFound):
        await _read(side, event_id, event_id + "BEgAQnothing")
    await side.calendar.delete_event(ALICE, event_id)
    with pytest.raises(GraphNotFound):
        await side.calendar.event_attachments(ALICE, event_id)
