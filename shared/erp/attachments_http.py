"""``HttpErp``'s file calls (R18) over the ERP Sync API, streamed both ways.

Upload: ``POST /activities/{id}/attachments?name=…`` with the bytes streamed from the caller's async iterable as
the body (never held whole), ``Content-Length`` from the file's size, ``Content-Digest: sha-256=:…:`` (RFC 9530)
from its hash, and the ``Idempotency-Key``. It is retried on 429/5xx/network errors like every call, but only
while the body can be read again: a one-shot iterator already consumed is not re-sent; that is ``ErpTransient``
and the sync retries the item later (the key makes that safe). Download: ``GET …/{aid}/content`` streamed with
``client.stream`` semantics; the bytes are checked against the ``ETag`` (their SHA-256) at the end.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator

import httpx
import stamina
from pydantic import ValidationError

from shared.core.activities import ErpModel
from shared.core.attachments import ActivityAttachment, FileMeta
from shared.erp.http_wire import (
    RETRY_ATTEMPTS,
    RETRY_STATUSES,
    RETRY_TIMEOUT_SECONDS,
    Retryable,
    backoff,
    error_for,
    retry_after,
    segment,
)
from shared.errors import ErpInvalid, ErpTooLarge, ErpTransient

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class _Added(ErpModel):
    """The upload's answer: ``{"attachment": {...}, "activityVersion": n}``."""

    attachment: ActivityAttachment
    activity_version: int


class _WrongSize(Exception):
    """The caller's content did not hold the file's declared size."""


class _Body:
    """The upload body: exactly ``size`` bytes from ``content``, counted as they go out. ``replayable`` says
    whether another attempt can read them again: before the first read, or when ``content`` is an iterable
    that hands out a fresh iterator each time (not a one-shot iterator such as an async generator)."""

    def __init__(self, content: AsyncIterable[bytes], size: int) -> None:
        self._content = content
        self._size = size
        self._started = False

    @property
    def replayable(self) -> bool:
        return not self._started or not isinstance(self._content, AsyncIterator)

    async def chunks(self) -> AsyncIterator[bytes]:
        self._started = True
        sent = 0
        async for chunk in self._content:
            if not chunk:
                continue
            sent += len(chunk)
            if sent > self._size:
                raise _WrongSize(f"more than the declared {self._size} bytes")
            yield chunk
        if sent != self._size:
            raise _WrongSize(f"{sent} bytes, not the declared {self._size}")


def _digest_header(sha256: str) -> str:
    """``Content-Digest`` (RFC 9530) for a SHA-256 given in hex."""
    if not SHA256_HEX.match(sha256):
        raise ErpInvalid("sha256 is the file's SHA-256 in lower-case hex")
    return f"sha-256=:{base64.b64encode(binascii.unhexlify(sha256)).decode()}:"


async def add_attachment(
    client: httpx.AsyncClient,
    activity_id: str,
    meta: FileMeta,
    content: AsyncIterable[bytes],
    *,
    sha256: str,
    idempotency_key: str,
    max_bytes: int | None,
) -> tuple[ActivityAttachment, int]:
    """Upload one file; the file as stored and the activity's version after it. ``max_bytes`` (the ERP's
    declared limit, when known) refuses a larger file before sending a byte."""
    if not idempotency_key:
        raise ValueError("idempotency_key is required (R10)")
    path = f"activities/{segment(activity_id)}/attachments"
    what = f"POST /{path}"
    if max_bytes is not None and meta.size > max_bytes:
        raise ErpTooLarge(f"{what}: the file has {meta.size} bytes; the ERP takes at most {max_bytes}", status=413)
    headers = {
        "Content-Type": meta.content_type,
        "Content-Length": str(meta.size),
        "Content-Digest": _digest_header(sha256),
        "Idempotency-Key": idempotency_key,
    }
    body = _Body(content, meta.size)

    def retry(exc: Exception) -> bool | float:
        return backoff(exc) if body.replayable else False

    try:
        async for attempt in stamina.retry_context(
            on=retry, attempts=RETRY_ATTEMPTS, timeout=RETRY_TIMEOUT_SECONDS, wait_max=10.0
        ):
            with attempt:
                response = await client.post(path, params={"name": meta.name}, content=body.chunks(), headers=headers)
                if response.status_code in RETRY_STATUSES:
                    raise Retryable(response.status_code, retry_after(response.headers.get("Retry-After")))
    except _WrongSize as exc:
        raise ErpInvalid(f"{what}: the content held {exc}") from None
    except Retryable as exc:
        raise ErpTransient(f"{what}: still {exc.status} (the body cannot be sent again)", status=exc.status) from None
    except httpx.HTTPError as exc:
        raise ErpTransient(f"{what}: {type(exc).__name__} (the body cannot be sent again)") from None
    if response.is_error:
        raise error_for(response, what)
    try:
        added = _Added.model_validate_json(response.content)
    except ValidationError:
        raise ErpInvalid(f"{what}: answer does not match the contract") from None
    return added.attachment, added.activity_version


async def _open(client: httpx.AsyncClient, path: str, what: str) -> httpx.Response:
    """The answer to ``GET path``, its body not read yet; retried like every call until the first byte."""
    try:
        async for attempt in stamina.retry_context(
            on=backoff, attempts=RETRY_ATTEMPTS, timeout=RETRY_TIMEOUT_SECONDS, wait_max=10.0
        ):
            with attempt:
                response = await client.send(client.build_request("GET", path), stream=True)
                if response.status_code in RETRY_STATUSES:
                    await response.aclose()
                    raise Retryable(response.status_code, retry_after(response.headers.get("Retry-After")))
    except Retryable as exc:
        raise ErpTransient(f"{what}: still {exc.status} after retries", status=exc.status) from None
    except httpx.HTTPError as exc:
        raise ErpTransient(f"{what}: {type(exc).__name__} after retries") from None
    if response.is_error:
        try:
            await response.aread()
        finally:
            await response.aclose()
        raise error_for(response, what)
    return response


async def read_attachment(client: httpx.AsyncClient, activity_id: str, attachment_id: str) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive; ErpNotFound when the file or the activity is gone, ErpTransient when
    the transfer breaks or the bytes do not have the SHA-256 the ERP named (``ETag``)."""
    path = f"activities/{segment(activity_id)}/attachments/{segment(attachment_id)}/content"
    what = f"GET /{path}"
    response = await _open(client, path, what)
    digest = hashlib.sha256()
    try:
        async for chunk in response.aiter_bytes():
            digest.update(chunk)
            yield chunk
    except httpx.HTTPError as exc:
        raise ErpTransient(f"{what}: {type(exc).__name__} while reading the file") from None
    finally:
        await response.aclose()
    etag = response.headers.get("ETag", "").removeprefix("W/").strip('"')
    if SHA256_HEX.match(etag) and etag != digest.hexdigest():
        raise ErpTransient(f"{what}: the bytes read do not have the SHA-256 the ERP named")
