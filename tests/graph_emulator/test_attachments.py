"""File attachments on events (R18): one POST below 3 MB, upload sessions from 3 MB to 150 MB.

Pages: "Add attachment" (https://learn.microsoft.com/en-us/graph/api/event-post-attachments), "Get attachment"
(https://learn.microsoft.com/en-us/graph/api/attachment-get), "Delete attachment"
(https://learn.microsoft.com/en-us/graph/api/attachment-delete), "attachment: createUploadSession"
(https://learn.microsoft.com/en-us/graph/api/attachment-createuploadsession), "Attach large files to Outlook
messages or events" (https://learn.microsoft.com/en-us/graph/outlook-large-attachments), "Microsoft Graph
throttling limits" (https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits).
"""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from emulators.graph import Emulator
from tests.graph_emulator.helpers import Receiver, create, event_body

MB = 1024 * 1024
CHUNK = 4 * MB
HOOK = "http://127.0.0.1/hook"


def _file(name: str, content: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": name,
        "contentType": "text/plain",
        "contentBytes": base64.b64encode(content).decode(),
        **extra,
    }


async def _event(http: httpx.AsyncClient, user: str, **extra: Any) -> dict[str, Any]:
    return await create(http, user, event_body("Review", "2026-12-01T10:00:00", "2026-12-01T11:00:00", **extra))


async def _session(http: httpx.AsyncClient, user: str, event_id: str, size: int, name: str = "big.bin") -> str:
    resp = await http.post(
        f"/v1.0/users/{user}/events/{event_id}/attachments/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": name, "size": size, "contentType": "image/png"}},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["nextExpectedRanges"] == ["0-"]
    return str(resp.json()["uploadUrl"])


async def _put(raw: httpx.AsyncClient, url: str, data: bytes, start: int, total: int, **headers: str) -> httpx.Response:
    end = start + len(data) - 1
    return await raw.put(
        url,
        content=data,
        headers={
            "Content-Range": f"bytes {start}-{end}/{total}",
            "Content-Type": "application/octet-stream",
            **headers,
        },
    )


async def test_small_file_add_list_get_value_and_delete(http: httpx.AsyncClient, alice: str) -> None:
    """Below 3 MB one POST attaches the file: 201 with id, size, isInline, lastModifiedDateTime; the list honours
    $select, $value gives the raw bytes with the file's media type, DELETE answers 204 and then 404 (pages "Add
    attachment", "Get attachment", "Delete attachment")."""
    ev = await _event(http, alice)
    base = f"/v1.0/users/{alice}/events/{ev['id']}/attachments"
    added = await http.post(base, json=_file("notes.txt", b"hello world"))
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert (body["name"], body["contentType"], body["size"], body["isInline"]) == ("notes.txt", "text/plain", 11, False)
    assert body["lastModifiedDateTime"]
    assert base64.b64decode(body["contentBytes"]) == b"hello world"

    listed = (await http.get(base, params={"$select": "id,name,contentType,size,isInline"})).json()["value"]
    assert [(a["id"], a["name"], a["size"]) for a in listed] == [(body["id"], "notes.txt", 11)]
    assert "contentBytes" not in listed[0]
    assert listed[0]["@odata.type"] == "#microsoft.graph.fileAttachment"
    one = await http.get(f"{base}/{body['id']}")
    assert one.json()["name"] == "notes.txt"
    raw = await http.get(f"{base}/{body['id']}/$value")
    assert (raw.status_code, raw.content, raw.headers["content-type"]) == (200, b"hello world", "text/plain")

    assert (await http.delete(f"{base}/{body['id']}")).status_code == 204
    gone = await http.delete(f"{base}/{body['id']}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ErrorItemNotFound")
    assert (await http.get(base)).json()["value"] == []


async def test_post_body_is_checked_strictly(http: httpx.AsyncClient, alice: str) -> None:
    """A file attachment needs @odata.type, name and base64 contentBytes; unknown properties are refused (page
    "fileAttachment resource type": "@odata.type", name and contentBytes are required)."""
    ev = await _event(http, alice)
    base = f"/v1.0/users/{alice}/events/{ev['id']}/attachments"
    no_type = {k: v for k, v in _file("a.txt", b"x").items() if k != "@odata.type"}
    no_name = {k: v for k, v in _file("a.txt", b"x").items() if k != "name"}
    cases = [no_type, no_name, _file("a.txt", b"x", contentBytes="not base64!"), _file("a.txt", b"x", colour="red")]
    for body in cases:
        resp = await http.post(base, json=body)
        assert resp.status_code == 400, body
    assert (await http.get(base)).json()["value"] == []


async def test_three_megabytes_are_refused_in_one_post(http: httpx.AsyncClient, alice: str) -> None:
    """One POST takes a file under 3 MB; 3 MB or more answer 413 (page "Add attachment": "limits the size of the
    attachment you can add to under 3 MB"; "Attach large files": 3 MB to 150 MB take an upload session)."""
    ev = await _event(http, alice)
    base = f"/v1.0/users/{alice}/events/{ev['id']}/attachments"
    resp = await http.post(base, json=_file("big.bin", b"\0" * (3 * MB)))
    assert resp.status_code == 413
    assert (await http.post(base, json=_file("fits.bin", b"\0" * (3 * MB - 1)))).status_code == 201


async def test_ten_megabytes_through_an_upload_session(http: httpx.AsyncClient, alice: str, app: Any) -> None:
    """createUploadSession answers a pre-authenticated uploadUrl; PUTs of up to 4 MB in order answer 200 with the
    next expected byte, the last one 201 with a Location naming the attachment (page "Attach large files")."""
    ev = await _event(http, alice)
    data = os.urandom(10 * MB)
    url = await _session(http, alice, ev["id"], len(data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as raw:
        answers = [await _put(raw, url, data[s : s + CHUNK], s, len(data)) for s in range(0, len(data), CHUNK)]
    assert [a.status_code for a in answers] == [200, 200, 201]
    assert answers[0].json()["nextExpectedRanges"] == [str(CHUNK)]
    assert answers[-1].content == b""
    found = re.search(r"/Events\('([^']+)'\)/Attachments\('([^']+)'\)$", answers[-1].headers["Location"])
    assert found
    assert found.group(1) == ev["id"]
    raw_bytes = await http.get(f"/v1.0/users/{alice}/events/{ev['id']}/attachments/{found.group(2)}/$value")
    assert raw_bytes.content == data
    assert raw_bytes.headers["content-type"] == "image/png"


async def test_a_range_out_of_order_is_refused_with_the_next_expected_range(
    http: httpx.AsyncClient, alice: str, app: Any
) -> None:
    """Bytes must be uploaded in order ("You must upload bytes in a file in order", page "Attach large files"): a
    range not starting at the next expected byte is a 416 that names it; Content-Length must match the range."""
    ev = await _event(http, alice)
    data = os.urandom(6 * MB)
    url = await _session(http, alice, ev["id"], len(data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as raw:
        assert (await _put(raw, url, data[:MB], 0, len(data))).status_code == 200
        skipped = await _put(raw, url, data[2 * MB : 3 * MB], 2 * MB, len(data))
        assert skipped.status_code == 416
        assert skipped.json()["error"]["nextExpectedRanges"] == [str(MB)]
        wrong_length = await raw.put(
            url, content=data[MB : 2 * MB], headers={"Content-Range": f"bytes {MB}-{MB}/{len(data)}"}
        )
        assert wrong_length.status_code == 400
        too_big = await _put(raw, url, data[MB : MB + CHUNK + 1], MB, len(data))
        assert too_big.status_code == 413
        assert (await _put(raw, url, data[MB : MB + CHUNK], MB, len(data))).status_code == 200
        assert (await _put(raw, url, data[MB + CHUNK :], MB + CHUNK, len(data))).status_code == 201


async def test_a_failed_range_is_sent_again_from_the_next_expected_range(
    http: httpx.AsyncClient, alice: str, app: Any
) -> None:
    """A PUT that fails (an injected 503) stored nothing: the same range is sent again and the upload completes
    (page "createUploadSession": the ranged PUTs let the transfer resume when the connection drops)."""
    ev = await _event(http, alice)
    data = os.urandom(6 * MB)
    url = await _session(http, alice, ev["id"], len(data))
    await http.post(
        "/_emulator/faults", json={"method": "PUT", "path": "AttachmentSessions", "status": 503, "count": 1}
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as raw:
        assert (await _put(raw, url, data[:CHUNK], 0, len(data))).status_code == 503
        again = await _put(raw, url, data[:CHUNK], 0, len(data))
        assert again.json()["nextExpectedRanges"] == [str(CHUNK)]
        assert (await _put(raw, url, data[CHUNK:], CHUNK, len(data))).status_code == 201
    listed = (await http.get(f"/v1.0/users/{alice}/events/{ev['id']}/attachments")).json()["value"]
    assert [a["size"] for a in listed] == [len(data)]


async def test_put_with_an_authorization_header_is_refused(http: httpx.AsyncClient, alice: str, app: Any) -> None:
    """The uploadUrl is pre-authenticated: "Do not specify an Authorization request header" (page "Attach large
    files", step 2); with one the PUT answers 401 and nothing is stored."""
    ev = await _event(http, alice)
    data = os.urandom(3 * MB)
    url = await _session(http, alice, ev["id"], len(data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as raw:
        bearer = http.headers["Authorization"]
        refused = await _put(raw, url, data, 0, len(data), Authorization=bearer)
        assert refused.status_code == 401
        assert (await _put(raw, url, data, 0, len(data))).status_code == 201


async def test_an_expired_session_answers_404_and_delete_cancels(
    http: httpx.AsyncClient, alice: str, app: Any, emulator: Emulator
) -> None:
    """The session ends at expirationDateTime, which PUTs do not extend (page "Attach large files": "This
    expiration date/time remains the same"); its URL then answers 404. DELETE on the URL cancels it: 204."""
    ev = await _event(http, alice)
    data = os.urandom(3 * MB)
    url = await _session(http, alice, ev["id"], len(data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as raw:
        minutes = emulator.state.config.upload_session_minutes + 1
        await http.post("/_emulator/clock", json={"advanceMinutes": minutes})
        assert (await _put(raw, url, data, 0, len(data))).status_code == 404
        other = await _session(http, alice, ev["id"], len(data))
        assert (await raw.delete(other)).status_code == 204
        assert (await _put(raw, other, data, 0, len(data))).status_code == 404


async def test_session_sizes_outside_three_to_150_megabytes_are_refused(http: httpx.AsyncClient, alice: str) -> None:
    """createUploadSession takes 3 MB to 150 MB: smaller is ErrorAttachmentSizeShouldNotBeLessThanMinimumSize
    (page "Attach large files", Errors), larger is refused (413); attachmentType must be file."""
    ev = await _event(http, alice)
    path = f"/v1.0/users/{alice}/events/{ev['id']}/attachments/createUploadSession"

    def item(size: int, kind: str = "file") -> dict[str, Any]:
        return {"AttachmentItem": {"attachmentType": kind, "name": "x.bin", "size": size}}

    small = await http.post(path, json=item(MB))
    assert (small.status_code, small.json()["error"]["code"]) == (
        400,
        "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
    )
    assert (await http.post(path, json=item(150 * MB + 1))).status_code == 413
    assert (await http.post(path, json=item(150 * MB))).status_code == 201
    assert (await http.post(path, json=item(5 * MB, "folder"))).status_code == 400


async def test_files_bump_the_change_key_set_has_attachments_and_notify(
    http: httpx.AsyncClient, alice: str, emulator: Emulator, receiver: Receiver
) -> None:
    """Adding or removing a file changes the event: new changeKey and lastModifiedDateTime, hasAttachments (page
    "event resource type"), and an ``updated`` change notification (page "Change notifications for Outlook
    resources")."""
    ev = await _event(http, alice)
    assert ev["hasAttachments"] is False
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    sub = {
        "changeType": "updated",
        "notificationUrl": HOOK,
        "resource": f"/users/{alice}/events",
        "expirationDateTime": expires,
        "clientState": "s",
    }
    assert (await http.post("/v1.0/subscriptions", json=sub)).status_code == 201
    added = (await http.post(f"/v1.0/users/{alice}/events/{ev['id']}/attachments", json=_file("a.txt", b"a"))).json()
    after_add = (await http.get(f"/v1.0/users/{alice}/events/{ev['id']}")).json()
    assert after_add["hasAttachments"] is True
    assert after_add["changeKey"] != ev["changeKey"]
    assert after_add["lastModifiedDateTime"] >= ev["lastModifiedDateTime"]
    await http.delete(f"/v1.0/users/{alice}/events/{ev['id']}/attachments/{added['id']}")
    after_delete = (await http.get(f"/v1.0/users/{alice}/events/{ev['id']}")).json()
    assert after_delete["hasAttachments"] is False
    assert after_delete["changeKey"] != after_add["changeKey"]
    assert await emulator.notifier.drain(5)
    assert [n["resourceData"]["id"] for n in receiver.notifications] == [ev["id"], ev["id"]]


async def test_the_attendee_copy_gets_the_organizer_files(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """An organizer's files reach the attendees' copies, which change with them (page "Outlook calendar
    meetings": attendees receive the organizer's meeting)."""
    attendees = [{"emailAddress": {"address": "bob@contoso.com"}, "type": "required"}]
    ev = await _event(http, alice, attendees=attendees)
    [copy] = (await http.get(f"/v1.0/users/{bob}/events")).json()["value"]
    added = await http.post(f"/v1.0/users/{alice}/events/{ev['id']}/attachments", json=_file("agenda.txt", b"1. x"))
    [copy_after] = (await http.get(f"/v1.0/users/{bob}/events")).json()["value"]
    assert copy_after["hasAttachments"] is True
    assert copy_after["changeKey"] != copy["changeKey"]
    [file] = (await http.get(f"/v1.0/users/{bob}/events/{copy['id']}/attachments")).json()["value"]
    assert file["name"] == "agenda.txt"
    assert base64.b64decode(file["contentBytes"]) == b"1. x"
    await http.delete(f"/v1.0/users/{alice}/events/{ev['id']}/attachments/{added.json()['id']}")
    assert (await http.get(f"/v1.0/users/{bob}/events/{copy['id']}/attachments")).json()["value"] == []


async def test_upload_bytes_count_against_the_upload_budget(http: httpx.AsyncClient, alice: str, app: Any) -> None:
    """Outlook allows 150 MB of upload per 5 minutes per app and mailbox (page "Microsoft Graph throttling
    limits", Outlook service limits); past it the upload answers 429 with Retry-After (budget lowered here)."""
    await http.put("/_emulator/settings", json={"throttle": {"uploadBytesPerWindow": 5 * MB}})
    ev = await _event(http, alice)
    data = os.urandom(4 * MB)
    url = await _session(http, alice, ev["id"], len(data))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as raw:
        assert (await _put(raw, url, data, 0, len(data))).status_code == 201
    base = f"/v1.0/users/{alice}/events/{ev['id']}/attachments"
    throttled = await http.post(base, json=_file("more.bin", b"\0" * (2 * MB)))
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert (await http.post(base, json=_file("small.bin", b"\0" * MB))).status_code == 201


async def test_attachments_in_a_batch(http: httpx.AsyncClient, alice: str) -> None:
    """$batch items run through the same handlers; a raw $value body comes back base64-encoded (page "JSON
    batching")."""
    ev = await _event(http, alice)
    base = f"/users/{alice}/events/{ev['id']}/attachments"
    first = {
        "id": "1",
        "method": "POST",
        "url": base,
        "body": _file("b.txt", b"batch"),
        "headers": {"Content-Type": "application/json"},
    }
    second = {"id": "2", "method": "GET", "url": base, "dependsOn": ["1"]}
    answer = (await http.post("/v1.0/$batch", json={"requests": [first, second]})).json()["responses"]
    by_id = {r["id"]: r for r in answer}
    assert by_id["1"]["status"] == 201
    [listed] = by_id["2"]["body"]["value"]
    value = (
        await http.post(
            "/v1.0/$batch", json={"requests": [{"id": "3", "method": "GET", "url": f"{base}/{listed['id']}/$value"}]}
        )
    ).json()["responses"][0]
    assert base64.b64decode(value["body"]) == b"batch"
