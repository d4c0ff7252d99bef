"""The reference ERP's file endpoints (R18): list, upload, download and remove an activity's files.

``POST /activities/{id}/attachments?name=…`` takes the raw bytes as its body, with the file's ``Content-Type``,
a ``Content-Length`` (411 without), an ``Idempotency-Key`` (required) and optionally ``Content-Digest:
sha-256=:<base64>:`` (RFC 9530), which is checked (422 ``content-digest-mismatch``). A declared length past the
ERP's limit is refused with 413 ``attachment-too-large`` before any byte is read. The body is read into one
buffer of the declared size and stored as a BLOB; the download streams it back in chunks. Auth and injected
faults are the app's middleware, as for every endpoint; each write that changes something calls the hook.
"""

from __future__ import annotations

import base64
import binascii
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from emulators.erp.problems import Problem
from emulators.erp.request_state import notify, store_of
from emulators.erp.store import activity_hook

MAX_NAME_LENGTH = 255
MAX_KEY_LENGTH = 255
# type "/" subtype (RFC 6838 restricted names), then any parameters.
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


_store, _notify = store_of, notify


def _ids(request: Request) -> tuple[str, str | None]:
    return request.path_params["activity_id"], request.path_params.get("attachment_id")


def _name(request: Request) -> str:
    name = request.query_params.get("name")
    if not name or len(name) > MAX_NAME_LENGTH or CONTROL.search(name) or not name.strip():
        raise Problem(400, "bad-request", f"query parameter name is the file's name, 1 to {MAX_NAME_LENGTH} characters")
    return name


def _key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise Problem(400, "bad-request", f"an Idempotency-Key of 1 to {MAX_KEY_LENGTH} characters is required")
    return key


def _content_type(request: Request) -> str:
    value = (request.headers.get("Content-Type") or "").strip()
    if not value or len(value) > MAX_NAME_LENGTH or not MEDIA_TYPE.match(value) or CONTROL.search(value):
        raise Problem(400, "bad-request", "Content-Type is the file's media type, e.g. application/pdf")
    return value


def _length(request: Request) -> int:
    raw = request.headers.get("Content-Length")
    if raw is None:
        raise Problem(411, "length-required", "a file upload declares its size in Content-Length")
    if not raw.isascii() or not raw.isdigit():
        raise Problem(400, "bad-request", "Content-Length is a number of bytes")
    return int(raw)


def content_digest_sha256(value: str | None) -> str | None:
    """The SHA-256 (hex) a ``Content-Digest`` header declares (RFC 9530), None when it declares none; other
    algorithms are ignored, a malformed ``sha-256`` member is 400."""
    if value is None:
        return None
    for member in value.split(","):
        key, _, rest = member.partition("=")
        if key.strip().lower() != "sha-256":
            continue
        token = rest.split(";", 1)[0].strip()
        try:
            if len(token) < 2 or not (token.startswith(":") and token.endswith(":")):
                raise ValueError(token)
            digest = base64.b64decode(token[1:-1], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise Problem(400, "bad-request", "Content-Digest is sha-256=:<base64 of the SHA-256>:") from exc
        if len(digest) != 32:
            raise Problem(400, "bad-request", "Content-Digest's sha-256 is 32 bytes")
        return digest.hex()
    return None


async def _read_body(request: Request, declared: int) -> bytearray:
    """The body, exactly ``declared`` bytes, into one buffer of that size (no growing copies)."""
    buffer = bytearray(declared)
    view = memoryview(buffer)
    received = 0
    async for chunk in request.stream():
        if received + len(chunk) > declared:
            raise Problem(400, "bad-request", "the body is longer than its Content-Length")
        view[received : received + len(chunk)] = chunk
        received += len(chunk)
    view.release()
    if received != declared:
        raise Problem(400, "bad-request", "the body is shorter than its Content-Length")
    return buffer


# --- endpoints ----------------------------------------------------------------------------------------------


async def list_attachments(request: Request) -> Response:
    """The activity's files, without their bytes."""
    activity_id, _ = _ids(request)
    files = _store(request).list_attachments(activity_id)
    return JSONResponse({"items": [item.model_dump(by_alias=True, mode="json") for item in files]})


async def add_attachment(request: Request) -> Response:
    """Upload one file; a new activity version, a feed entry and a hook call (a replay: the first answer)."""
    activity_id, _ = _ids(request)
    store = _store(request)
    store.get_activity(activity_id)  # 404 before anything about the request
    name, key, content_type = _name(request), _key(request), _content_type(request)
    declared = _length(request)
    expected = content_digest_sha256(request.headers.get("Content-Digest"))
    store.check_attachment_size(declared)
    content = await _read_body(request, declared)
    result = store.add_attachment(
        activity_id,
        name=name,
        content_type=content_type,
        content=content,
        idempotency_key=key,
        expected_sha256=expected,
    )
    if result.replayed:
        return JSONResponse(result.answer(), status_code=201, headers={"Idempotent-Replayed": "true"})
    if result.activity is not None:
        _notify(request, activity_hook(result.activity))
    location = f"/activities/{activity_id}/attachments/{result.attachment.id}/content"
    return JSONResponse(result.answer(), status_code=201, headers={"Location": location})


async def attachment_content(request: Request) -> Response:
    """The file's bytes, streamed from its BLOB, with its type, length and SHA-256 as a strong ETag."""
    activity_id, attachment_id = _ids(request)
    store = _store(request)
    stored = store.stored_file(activity_id, attachment_id or "")
    meta = stored.attachment
    headers = {
        "Content-Type": meta.content_type,
        "Content-Length": str(meta.size),
        "ETag": f'"{meta.sha256}"',
    }
    if request.method == "HEAD":
        return Response(headers=headers)
    # A sync iterator: Starlette reads it in a worker thread, one chunk (and one lock hold) at a time.
    return StreamingResponse(store.file_chunks(stored), headers=headers)


async def remove_attachment(request: Request) -> Response:
    """Remove one file: a new activity version, a feed entry and a hook call; 404 when it is not there."""
    activity_id, attachment_id = _ids(request)
    after = _store(request).remove_attachment(activity_id, attachment_id or "")
    _notify(request, activity_hook(after))
    return JSONResponse({"activityVersion": after.version})
