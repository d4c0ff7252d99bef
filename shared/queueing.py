"""The work queue: one message per user to sync, read by the queue-triggered function.

Messages are base64-encoded JSON, because the Functions host's queue trigger decodes base64 by
default (host.json ``extensions.queues.messageEncoding``); a plain-text message would be refused.
"""

from __future__ import annotations

import contextlib
import json
from typing import Protocol

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy
from azure.storage.queue.aio import QueueClient
from pydantic import BaseModel, ConfigDict, Field

SYNC_QUEUE = "sync-user"


class SyncRequest(BaseModel):
    """Sync this user now; ``reason`` says who asked (notification, erp-hook, safety-net, lifecycle)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1)
    reason: str = "unspecified"

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncRequest:
        return cls.model_validate(json.loads(text))


class WorkQueue(Protocol):
    async def enqueue(self, request: SyncRequest, *, delay_seconds: int = 0) -> None: ...
    async def aclose(self) -> None: ...


class StorageWorkQueue:
    """The sync queue in Azure Queue Storage (Azurite locally)."""

    def __init__(self, client: QueueClient) -> None:
        self._client = client
        self._ready = False

    @classmethod
    def from_connection_string(cls, conn: str, *, queue: str = SYNC_QUEUE) -> StorageWorkQueue:
        return cls(
            QueueClient.from_connection_string(
                conn,
                queue,
                message_encode_policy=BinaryBase64EncodePolicy(),
                message_decode_policy=BinaryBase64DecodePolicy(),
            )
        )

    @classmethod
    def from_account(
        cls, account_name: str, credential: AsyncTokenCredential, *, queue: str = SYNC_QUEUE
    ) -> StorageWorkQueue:
        return cls(
            QueueClient(
                f"https://{account_name}.queue.core.windows.net",
                queue,
                credential=credential,
                message_encode_policy=BinaryBase64EncodePolicy(),
                message_decode_policy=BinaryBase64DecodePolicy(),
            )
        )

    async def enqueue(self, request: SyncRequest, *, delay_seconds: int = 0) -> None:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self._client.create_queue()
            self._ready = True
        await self._client.send_message(request.to_json().encode(), visibility_timeout=delay_seconds or None)

    async def aclose(self) -> None:
        await self._client.close()
