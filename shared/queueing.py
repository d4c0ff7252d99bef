"""The work queue: one message per user to sync, read by the queue-triggered function; and batches of Graph
notifications the webhook answered at once, which the same function turns into users' syncs.

Messages are base64-encoded JSON, because the Functions host's queue trigger decodes base64 by
default (host.json ``extensions.queues.messageEncoding``); a plain-text message would be refused.
A message that failed on every try (host.json ``maxDequeueCount``) is moved by the host, unchanged, to
``<queue>-poison``; ``drain_poison`` hands each such message over (to be recorded for the admin) and
deletes it, so set-aside requests never pile up there.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy
from azure.storage.queue.aio import QueueClient
from pydantic import BaseModel, ConfigDict, Field

SYNC_QUEUE = "sync-user"
POISON_SUFFIX = "-poison"  # where the Functions host sets aside a message that failed maxDequeueCount times
POISON_BATCH = 32  # Queue Storage's most messages per receive
POISON_DRAIN_LIMIT = 1024  # per drain; the rest waits for the next one
POISON_HOLD_SECONDS = 120  # a message being handled stays hidden this long (back if the drain dies)


class SyncRequest(BaseModel):
    """Sync this user now; ``reason`` says who asked (notification, erp-hook, safety-net, lifecycle, admin).

    ``correlation_id`` ties the request to what caused it (a notification, a hook call, a timer run): the
    webhook's log lines and the run's log record carry the same id (``shared.telemetry``).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1)
    reason: str = "unspecified"
    correlation_id: str | None = Field(default=None, alias="correlationId", max_length=64)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncRequest:
        return cls.model_validate(json.loads(text))


class NotedChange(BaseModel):
    """One Graph change notification as the webhook accepted it (its clientState checked, its id plausible)."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str = Field(min_length=1, max_length=256)
    change_type: str = Field(max_length=64)
    resource: str = Field(max_length=2048)
    lifecycle_event: str | None = Field(default=None, max_length=64)
    event_id: str | None = Field(default=None, max_length=512)
    change_key: str | None = Field(default=None, max_length=512)
    # The POST's correlation id: its users' runs log it, also when its notes share a message with others'.
    correlation_id: str | None = Field(default=None, max_length=64)


class NotificationBatch(BaseModel):
    """Graph notifications the webhook answered at once and left to the worker (issue 12, item 7): which users
    they concern, whether they are echoes, and the users' syncs are worked out there, off Graph's clock."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    kind: Literal["graph-notifications"] = "graph-notifications"
    notes: tuple[NotedChange, ...] = Field(min_length=1)
    correlation_id: str | None = Field(default=None, alias="correlationId", max_length=64)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


QueuedWork = SyncRequest | NotificationBatch


def read_message(text: str | bytes) -> QueuedWork:
    """A queue message: a batch of notifications (it says its ``kind``) or a sync request; ValueError or
    ValidationError when it is neither."""
    data = json.loads(text)
    if isinstance(data, dict) and data.get("kind") == "graph-notifications":
        return NotificationBatch.model_validate(data)
    return SyncRequest.model_validate(data)


@dataclass(frozen=True)
class SetAside:
    """A message the host set aside on the poison queue: its body (None if it was not base64)."""

    body: bytes | None
    inserted_on: datetime | None = None


class WorkQueue(Protocol):
    async def enqueue(self, request: QueuedWork, *, delay_seconds: int = 0) -> None:
        """Queue a sync (or notifications to look at); ``delay_seconds`` keeps the message invisible that long."""
        ...

    async def drain_poison(
        self, handle: Callable[[SetAside], Awaitable[None]], *, limit: int = POISON_DRAIN_LIMIT
    ) -> int:
        """Hand each set-aside message to ``handle``, then delete it; how many. A message whose ``handle``
        raised stays (hidden for a while) and the error propagates."""
        ...

    async def aclose(self) -> None: ...


class StorageWorkQueue:
    """The sync queue in Azure Queue Storage (Azurite locally), and its poison queue."""

    def __init__(self, client: QueueClient, poison: QueueClient | None = None) -> None:
        self._client = client
        self._poison = poison  # read as raw text: a message the host found undecodable is there too
        self._ready = False
        self._creating = asyncio.Lock()

    @classmethod
    def from_connection_string(cls, conn: str, *, queue: str = SYNC_QUEUE) -> StorageWorkQueue:
        return cls(
            QueueClient.from_connection_string(
                conn,
                queue,
                message_encode_policy=BinaryBase64EncodePolicy(),
                message_decode_policy=BinaryBase64DecodePolicy(),
            ),
            QueueClient.from_connection_string(conn, queue + POISON_SUFFIX),
        )

    @classmethod
    def from_account(
        cls, account_url: str, credential: AsyncTokenCredential, *, queue: str = SYNC_QUEUE
    ) -> StorageWorkQueue:
        """With a managed identity on the account's queue endpoint, ``https://<account>.queue.<suffix>``
        (the suffix depends on the cloud: ``Settings.storage_service_url``)."""
        return cls(
            QueueClient(
                account_url,
                queue,
                credential=credential,
                message_encode_policy=BinaryBase64EncodePolicy(),
                message_decode_policy=BinaryBase64DecodePolicy(),
            ),
            QueueClient(account_url, queue + POISON_SUFFIX, credential=credential),
        )

    async def enqueue(self, request: QueuedWork, *, delay_seconds: int = 0) -> None:
        if not self._ready:
            async with self._creating:  # one create for a burst of first sends, not one each
                if not self._ready:
                    with contextlib.suppress(ResourceExistsError):
                        await self._client.create_queue()
                    self._ready = True
        await self._client.send_message(request.to_json().encode(), visibility_timeout=delay_seconds or None)

    async def drain_poison(
        self, handle: Callable[[SetAside], Awaitable[None]], *, limit: int = POISON_DRAIN_LIMIT
    ) -> int:
        if self._poison is None:
            return 0
        done = 0
        while done < limit:
            try:
                pages = self._poison.receive_messages(
                    messages_per_page=POISON_BATCH,
                    max_messages=min(POISON_BATCH, limit - done),
                    visibility_timeout=POISON_HOLD_SECONDS,
                )
                batch = [message async for message in pages]
            except ResourceNotFoundError:
                return done  # nothing was ever set aside
            if not batch:
                break
            for message in batch:
                await handle(SetAside(body=_base64_body(message.content), inserted_on=message.inserted_on))
                await self._poison.delete_message(message)
                done += 1
        return done

    async def aclose(self) -> None:
        await self._client.close()
        if self._poison is not None:
            await self._poison.close()


def _base64_body(content: object) -> bytes | None:
    try:
        return base64.b64decode(str(content or ""), validate=True)
    except (binascii.Error, ValueError):
        return None
