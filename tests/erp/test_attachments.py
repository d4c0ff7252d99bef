"""Files on ERP activities (R18) through the ERP port: HttpErp over the reference ERP on loopback HTTP and the
in-process fake (the ``erp`` fixture runs each test on both, so the fake keeps HttpErp's behaviour), plus the
wire itself (``raw``, ``http_erp``) and the change hook."""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from emulators.erp.store import DEFAULT_MAX_ATTACHMENT_BYTES, ErpStore
from shared.core.activities import Activity, ActivityFields, ActivityPatch, ActivityType
from shared.core.attachments import ActivityAttachment, FileMeta
from shared.erp.hook import verify_hook
from shared.erp.http_client import HttpErp
from shared.erp.port import ErpPort
from shared.errors import ErpInvalid, ErpNotFound, ErpReadOnly, ErpTooLarge, ErpTransient
from tests.erp.conftest import HOOK_SECRET, HookReceiver, RunningErp

PDF = "application/pdf"


def meeting() -> ActivityFields:
    return ActivityFields(
        type=ActivityType.MEETING,
        subject="Review",
        start=datetime(2026, 12, 3, 10),
        end=datetime(2026, 12, 3, 11),
        time_zone="Europe/Oslo",
        owner_id="U1",
        registered_user_ids=("U2",),
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class Replayable:
    """An async iterable handing out a fresh iterator each time: a body an upload may send again."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        self.reads += 1
        return chunks(self.data)


async def add(
    erp: ErpPort, activity: Activity, data: bytes, *, key: str, name: str = "agenda.pdf", digest: str = ""
) -> tuple[ActivityAttachment, int]:
    meta = FileMeta(name=name, content_type=PDF, size=len(data))
    return await erp.add_activity_attachment(
        activity.id, meta, chunks(data), sha256=digest or sha(data), idempotency_key=key
    )


async def read(erp: ErpPort, activity_id: str, attachment_id: str) -> bytes:
    return b"".join([chunk async for chunk in erp.read_activity_attachment(activity_id, attachment_id)])


# --- the port, on both ERPs ---------------------------------------------------------------------------------


async def test_capabilities_declare_files_and_users_carry_their_setting(erp: ErpPort, erp_store: ErpStore) -> None:
    """The ERP says it holds files up to 25 MiB by default, and each user's attachment file sync setting is off
    unless switched on (R18)."""
    capabilities = await erp.capabilities()
    assert capabilities.attachments is True
    assert capabilities.max_attachment_bytes == DEFAULT_MAX_ATTACHMENT_BYTES == 25 * 1024 * 1024
    assert (await erp.get_user("U1")).sync_attachments is False
    erp_store.put_user((await erp.get_user("U2")).model_copy(update={"sync_attachments": True}))
    assert (await erp.get_user("U2")).sync_attachments is True


async def test_added_file_is_listed_on_the_activity_and_read_back_with_its_hash(erp: ErpPort) -> None:
    """A file added to an activity comes back byte for byte, with the SHA-256 the ERP computed, in the activity's
    ``attachments`` (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-1")
    data = b"%PDF-1.7 agenda\n" * 100
    attachment, version = await add(erp, created, data, key="att-1-file")
    assert (attachment.name, attachment.content_type, attachment.size, attachment.sha256) == (
        "agenda.pdf",
        PDF,
        len(data),
        sha(data),
    )
    assert version == created.version + 1
    stored = await erp.get_activity(created.id)
    assert stored.attachments == (attachment,)
    assert stored.version == version
    assert await read(erp, created.id, attachment.id) == data


async def test_a_ten_megabyte_file_streams_both_ways_unchanged(erp: ErpPort) -> None:
    """A 10 MB file goes up in 64 KiB chunks and comes down in several chunks, the same bytes (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-big")
    data = random.Random(18).randbytes(10_000_000)
    attachment, _ = await add(erp, created, data, key="att-big-file", name="scan.bin")
    assert attachment.size == len(data)
    assert attachment.sha256 == sha(data)
    pieces = [chunk async for chunk in erp.read_activity_attachment(created.id, attachment.id)]
    assert len(pieces) > 1
    assert b"".join(pieces) == data


async def test_adding_and_removing_a_file_are_changes_in_the_feed(erp: ErpPort) -> None:
    """Each file added or removed gives the activity a new version and modifiedAt, and the feed of every user on
    it carries the activity with its new ``attachments`` list (R18, R5)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-feed")
    cursor = (await erp.activity_changes(user_id="U2", cursor=None)).cursor
    attachment, added_version = await add(erp, created, b"minutes", key="att-feed-file", name="minutes.txt")
    page = await erp.activity_changes(user_id="U2", cursor=cursor)
    assert [(c.activity_id, c.activity.version, c.activity.attachments) for c in page.items if c.activity] == [
        (created.id, added_version, (attachment,))
    ]
    assert page.items[0].activity is not None
    assert page.items[0].activity.modified_at >= created.modified_at
    removed_version = await erp.remove_activity_attachment(created.id, attachment.id)
    assert removed_version == added_version + 1
    page = await erp.activity_changes(user_id="U1", cursor=page.cursor)
    assert [(c.activity.version, c.activity.attachments) for c in page.items if c.activity] == [(removed_version, ())]


async def test_an_edit_and_a_state_change_keep_the_files(erp: ErpPort) -> None:
    """Files are part of the activity: editing its fields or closing it leaves them in place (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-keep")
    attachment, version = await add(erp, created, b"kept", key="att-keep-file")
    edited = await erp.update_activity(created.id, ActivityPatch(subject="Review, moved"), version=version)
    assert edited.attachments == (attachment,)
    closed = await erp.close_activity(created.id, version=edited.version)
    assert closed.attachments == (attachment,)
    assert (await erp.get_activity(created.id)).attachments == (attachment,)


async def test_an_upload_retried_with_the_same_key_stores_one_file(erp: ErpPort) -> None:
    """A retry with the same Idempotency-Key answers the first result and stores nothing more (R18, R10); the
    same key for other bytes is refused."""
    created = await erp.create_activity(meeting(), idempotency_key="att-idem")
    first = await add(erp, created, b"one file", key="att-idem-file")
    again = await add(erp, created, b"one file", key="att-idem-file")
    assert again == first
    stored = await erp.get_activity(created.id)
    assert stored.attachments == (first[0],)
    assert stored.version == created.version + 1
    with pytest.raises(ErpInvalid) as caught:
        await add(erp, created, b"other bytes", key="att-idem-file")
    assert (caught.value.problem_type or "").endswith("/idempotency-key-reused")
    assert (await erp.get_activity(created.id)).attachments == (first[0],)


async def test_a_file_past_the_limit_is_too_large_and_nothing_is_stored(
    erp: ErpPort, erp_store: ErpStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file larger than the ERP's declared limit is refused with ErpTooLarge, before the ERP stores anything,
    whether the adapter knew the limit or learnt it from the ERP's 413 (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-large")
    await erp.capabilities()  # the adapter keeps the 25 MiB it read
    monkeypatch.setattr(erp_store, "max_attachment_bytes", 1000)
    with pytest.raises(ErpTooLarge) as caught:
        await add(erp, created, b"x" * 1001, key="att-large-file")
    assert caught.value.status == 413
    assert (caught.value.problem_type or "").endswith("/attachment-too-large")
    assert (await add(erp, created, b"x" * 1000, key="att-fits"))[0].size == 1000
    stored = await erp.get_activity(created.id)
    assert [item.size for item in stored.attachments] == [1000]
    assert stored.version == created.version + 1


async def test_a_file_past_the_limit_the_adapter_knows_is_not_sent(
    erp: ErpPort, erp_store: ErpStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the limit read from the capabilities, a larger file is ErpTooLarge and its bytes are never read
    (R18)."""
    monkeypatch.setattr(erp_store, "max_attachment_bytes", 10)
    assert (await erp.capabilities()).max_attachment_bytes == 10
    created = await erp.create_activity(meeting(), idempotency_key="att-known")
    body = Replayable(b"y" * 11)
    meta = FileMeta(name="big.bin", size=11)
    with pytest.raises(ErpTooLarge):
        await erp.add_activity_attachment(created.id, meta, body, sha256=sha(body.data), idempotency_key="k-known")
    assert body.reads == 0
    assert (await erp.get_activity(created.id)).attachments == ()


async def test_bytes_not_matching_their_hash_are_invalid_and_not_stored(erp: ErpPort) -> None:
    """An upload whose bytes do not have the SHA-256 it declares (Content-Digest) is refused (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-digest")
    with pytest.raises(ErpInvalid) as caught:
        await add(erp, created, b"what was sent", key="att-digest-file", digest=sha(b"what was meant"))
    assert not isinstance(caught.value, ErpTooLarge)
    assert caught.value.status == 422
    assert (caught.value.problem_type or "").endswith("/content-digest-mismatch")
    stored = await erp.get_activity(created.id)
    assert (stored.attachments, stored.version) == ((), created.version)


async def test_content_shorter_than_its_declared_size_is_invalid(erp: ErpPort) -> None:
    """Content that does not hold the size its metadata declares is refused, nothing stored (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-short")
    meta = FileMeta(name="short.bin", size=10)
    with pytest.raises(ErpInvalid):
        await erp.add_activity_attachment(created.id, meta, chunks(b"12345"), sha256=sha(b"12345"), idempotency_key="s")
    assert (await erp.get_activity(created.id)).attachments == ()


async def test_removing_a_file_and_removing_it_again(erp: ErpPort) -> None:
    """Removing a file bumps the version once; removing it again answers the current version and changes
    nothing; its bytes are gone; an unknown activity is not found (R18)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-rm")
    kept, _ = await add(erp, created, b"kept", key="att-rm-kept", name="kept.txt")
    gone, version = await add(erp, created, b"gone", key="att-rm-gone", name="gone.txt")
    after = await erp.remove_activity_attachment(created.id, gone.id)
    assert after == version + 1
    assert await erp.remove_activity_attachment(created.id, gone.id) == after
    stored = await erp.get_activity(created.id)
    assert (stored.attachments, stored.version) == ((kept,), after)
    with pytest.raises(ErpNotFound):
        await read(erp, created.id, gone.id)
    with pytest.raises(ErpNotFound):
        await erp.remove_activity_attachment("no-such-activity", gone.id)
    with pytest.raises(ErpNotFound):
        await add(erp, created.model_copy(update={"id": "no-such-activity"}), b"x", key="att-rm-none")


async def test_a_read_only_activity_refuses_files(erp: ErpPort) -> None:
    """A voided activity takes no new file and keeps its files, as it refuses every other write (R18, R7)."""
    created = await erp.create_activity(meeting(), idempotency_key="att-ro")
    attachment, version = await add(erp, created, b"before", key="att-ro-file")
    voided = await erp.void_activity(created.id, version=version)
    with pytest.raises(ErpReadOnly):
        await add(erp, created, b"after", key="att-ro-late")
    with pytest.raises(ErpReadOnly):
        await erp.remove_activity_attachment(created.id, attachment.id)
    stored = await erp.get_activity(created.id)
    assert (stored.attachments, stored.version) == ((attachment,), voided.version)
    assert await read(erp, created.id, attachment.id) == b"before"


# --- HTTP: the wire, retries, the hook ----------------------------------------------------------------------


async def test_the_wire_of_an_upload_and_a_download(http_erp: HttpErp, raw: httpx.AsyncClient) -> None:
    """The upload answers 201 with the file and the activity's version; the download carries the file's type,
    length and SHA-256 as ETag; the list holds the file; a digest mismatch is a 422 problem (R18)."""
    created = await http_erp.create_activity(meeting(), idempotency_key="wire-1")
    data = b"hello, file"
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    path = f"/activities/{created.id}/attachments"
    headers = {"Content-Type": "text/plain", "Idempotency-Key": "wire-k", "Content-Digest": f"sha-256=:{digest}:"}
    answer = await raw.post(path, params={"name": "hello.txt"}, content=data, headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["activityVersion"] == created.version + 1
    assert body["attachment"] | {"id": "-"} == {
        "id": "-",
        "name": "hello.txt",
        "contentType": "text/plain",
        "size": len(data),
        "sha256": sha(data),
    }
    content = await raw.get(f"{path}/{body['attachment']['id']}/content")
    assert content.content == data
    assert content.headers["content-type"] == "text/plain"
    assert content.headers["content-length"] == str(len(data))
    assert content.headers["etag"] == f'"{sha(data)}"'
    assert (await raw.get(path)).json() == {"items": [body["attachment"]]}
    bad = await raw.post(
        path,
        params={"name": "x.txt"},
        content=b"other",
        headers={**headers, "Idempotency-Key": "wire-bad"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"].endswith("/content-digest-mismatch")


async def test_uploads_missing_what_the_contract_requires_are_refused(
    http_erp: HttpErp, raw: httpx.AsyncClient, erp_server: RunningErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Idempotency-Key or name is 400, a malformed digest 400, no Content-Length 411, a declared size past the
    limit 413 before the body is read; nothing is stored (R18)."""
    created = await http_erp.create_activity(meeting(), idempotency_key="wire-2")
    path = f"/activities/{created.id}/attachments"
    ok = {"Content-Type": PDF, "Idempotency-Key": "k"}
    no_key = await raw.post(path, params={"name": "a.pdf"}, content=b"1", headers={"Content-Type": PDF})
    no_name = await raw.post(path, content=b"1", headers=ok)
    bad_digest = await raw.post(
        path, params={"name": "a.pdf"}, content=b"1", headers={**ok, "Content-Digest": "sha-256=:nope:"}
    )
    no_length = await raw.post(path, params={"name": "a.pdf"}, content=chunks(b"1"), headers=ok)
    monkeypatch.setattr(erp_server.store, "max_attachment_bytes", 4)
    big = await raw.post(path, params={"name": "a.pdf"}, content=b"12345", headers=ok)
    statuses = [r.status_code for r in (no_key, no_name, bad_digest, no_length, big)]
    assert statuses == [400, 400, 400, 411, 413]
    assert big.json()["type"].endswith("/attachment-too-large")
    assert (await http_erp.get_activity(created.id)).attachments == ()


async def test_a_one_shot_body_is_not_sent_twice_but_a_rereadable_one_is(
    http_erp: HttpErp, raw: httpx.AsyncClient
) -> None:
    """A 503 after the body went out: a one-shot iterator cannot be sent again, so the upload is ErpTransient and
    the sync retries the item; a body that can be read again is retried and stored once (R18, R10)."""
    created = await http_erp.create_activity(meeting(), idempotency_key="wire-3")
    await http_erp.capabilities()
    data = b"retry me"
    meta = FileMeta(name="r.txt", content_type="text/plain", size=len(data))
    await raw.post("/_erp/faults", json={"status": 503, "count": 1, "retryAfter": 0})
    with pytest.raises(ErpTransient):
        await http_erp.add_activity_attachment(created.id, meta, chunks(data), sha256=sha(data), idempotency_key="r1")
    assert (await http_erp.get_activity(created.id)).attachments == ()
    await raw.post("/_erp/faults", json={"status": 503, "count": 1, "retryAfter": 0})
    body = Replayable(data)
    attachment, _ = await http_erp.add_activity_attachment(
        created.id, meta, body, sha256=sha(data), idempotency_key="r2"
    )
    assert body.reads == 2
    assert (await http_erp.get_activity(created.id)).attachments == (attachment,)


async def test_download_is_retried_before_its_first_byte(http_erp: HttpErp, raw: httpx.AsyncClient) -> None:
    """A throttled download is tried again and then streams the file (R18)."""
    created = await http_erp.create_activity(meeting(), idempotency_key="wire-4")
    attachment, _ = await add(http_erp, created, b"throttled", key="wire-4-file")
    await raw.post("/_erp/faults", json={"status": 429, "count": 2, "retryAfter": 0})
    assert await read(http_erp, created.id, attachment.id) == b"throttled"


async def test_adding_and_removing_a_file_calls_the_hook(
    http_erp: HttpErp, hook_receiver: HookReceiver, raw: httpx.AsyncClient
) -> None:
    """Adding and removing a file each call the change hook with the activity's users and new version, like any
    activity change; a replayed upload calls nothing (R18, R5)."""
    created = await http_erp.create_activity(meeting(), idempotency_key="hook-att")
    attachment, added = await add(http_erp, created, b"hooked", key="hook-att-file")
    await add(http_erp, created, b"hooked", key="hook-att-file")
    removed = await http_erp.remove_activity_attachment(created.id, attachment.id)
    hook_receiver.wait_for(3)
    (await raw.get("/_erp/hooks")).raise_for_status()  # every call in flight has landed
    payloads = [verify_hook(c.headers, c.body, secret=HOOK_SECRET, now=time.time()) for c in hook_receiver.calls]
    changes = sorted((p.changes[0].id, p.changes[0].user_ids, p.changes[0].version or 0) for p in payloads)
    assert changes == [
        (created.id, ("U1", "U2"), created.version),
        (created.id, ("U1", "U2"), added),
        (created.id, ("U1", "U2"), removed),
    ]
