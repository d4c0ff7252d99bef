"""Queue triggers and queue outputs on Azure Storage (Azurite), with the real host's retry and poison rules.

- A message is decoded per ``messageEncoding`` (base64 by default: the text is base64 of the body). One that
  does not decode is moved to ``<queue>-poison`` at once, as the extension does since
  https://github.com/Azure/azure-sdk-for-net/pull/18326.
- Success deletes the message. Failure makes it visible again after ``visibilityTimeout``; once its dequeue
  count reaches ``maxDequeueCount`` it is copied unchanged to ``<queue>-poison`` and deleted
  (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages).
- Output bindings are sent only after the function succeeded, encoded the same way; the output queue is
  created if missing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions.queue as func_queue
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from emulators.functions_host.app_settings import EnvironmentOverlay
from emulators.functions_host.catalog import FunctionSpec, QueueOutput, QueueTrigger
from emulators.functions_host.host_config import QueueOptions
from emulators.functions_host.invoke import InvocationOutcome

log = logging.getLogger("emulators.functions_host.queues")

POISON_SUFFIX = "-poison"
# How long a received message stays hidden while its function runs; long, since we process one at a time.
_PROCESSING_VISIBILITY_SECONDS = 300

Runner = Callable[[FunctionSpec, Any], Awaitable[InvocationOutcome]]


class UndecodableMessage(ValueError):
    """The message text is not valid for the configured ``messageEncoding``."""


def decode_message(text: str, *, encoding: str) -> bytes:
    """The body bytes of a message whose text is ``text``."""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise UndecodableMessage(f"message is not base64 ({error})") from error


def encode_message(body: str | bytes, *, encoding: str) -> str:
    """The message text that carries ``body``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if encoding == "none":
        return raw.decode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def output_messages(value: Any) -> list[str | bytes]:
    """The messages an output binding value stands for: none, one, or one per list item."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [message for item in value for message in output_messages(item)]
    if isinstance(value, str | bytes):
        return [value]
    return [json.dumps(value)]


class StorageQueues:
    """Queue clients per (connection setting, queue name), opened lazily and closed together."""

    def __init__(self, settings: EnvironmentOverlay) -> None:
        self._settings = settings
        self._services: dict[str, QueueServiceClient] = {}

    def queue(self, connection: str, queue_name: str) -> QueueClient:
        connection_string = self._connection_string(connection)
        service = self._services.get(connection_string)
        if service is None:
            service = QueueServiceClient.from_connection_string(connection_string)
            self._services[connection_string] = service
        return service.get_queue_client(queue_name)

    def _connection_string(self, connection: str) -> str:
        # The host looks up the setting as named, then with the AzureWebJobs prefix.
        for name in (connection, f"AzureWebJobs{connection}"):
            value = self._settings.lookup(name)
            if value:
                return value
        raise LookupError(f"app setting {connection!r} (a storage connection string) is not set")

    async def aclose(self) -> None:
        services, self._services = self._services, {}
        for service in services.values():
            await service.close()


class QueueProcessor:
    """Feeds queue-triggered functions from their queues and sends their queue outputs."""

    def __init__(self, *, queues: StorageQueues, options: QueueOptions, run: Runner) -> None:
        self._queues = queues
        self._options = options
        self._run = run

    async def process_batch(self, function: FunctionSpec) -> int:
        """Receive up to ``batchSize`` visible messages and process them one by one; how many were received."""
        trigger = _queue_trigger(function)
        client = self._queues.queue(trigger.connection, trigger.queue_name)
        try:
            pages = client.receive_messages(
                messages_per_page=self._options.batch_size,
                max_messages=self._options.batch_size,
                visibility_timeout=_PROCESSING_VISIBILITY_SECONDS,
            )
            messages = [message async for message in pages]
        except ResourceNotFoundError:
            return 0  # The real host polls a missing queue without creating it.
        for message in messages:
            await self.process_message(function, client, message)
        return len(messages)

    async def pending(self, function: FunctionSpec) -> int:
        """Messages in the function's queue, visible or not (0 if the queue does not exist)."""
        trigger = _queue_trigger(function)
        client = self._queues.queue(trigger.connection, trigger.queue_name)
        try:
            properties = await client.get_queue_properties()
        except ResourceNotFoundError:
            return 0
        return int(properties.approximate_message_count or 0)

    async def process_message(self, function: FunctionSpec, client: QueueClient, message: StorageMessage) -> None:
        text = str(message.content or "")
        try:
            body = decode_message(text, encoding=self._options.message_encoding)
        except UndecodableMessage:
            log.exception("%s: message %s cannot be decoded; moving it to the poison queue", function.name, message.id)
            await self._move_to_poison(function, message, text)
            return
        trigger_value = func_queue.QueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        try:
            # The runner also sends the function's queue outputs; a failure there fails the message too.
            await self._run(function, trigger_value)
        except Exception:
            log.exception(
                "%s failed on message %s (dequeue count %s)", function.name, message.id, message.dequeue_count
            )
            if (message.dequeue_count or 0) >= self._options.max_dequeue_count:
                log.warning(
                    "%s: message %s reached maxDequeueCount; moving it to the poison queue", function.name, message.id
                )
                await self._move_to_poison(function, message, text)
            else:
                await client.update_message(
                    message,
                    pop_receipt=message.pop_receipt,
                    visibility_timeout=int(self._options.visibility_timeout.total_seconds()),
                )
            return
        await client.delete_message(message, pop_receipt=message.pop_receipt)

    async def send_outputs(self, function: FunctionSpec, outcome: InvocationOutcome) -> None:
        for output in function.queue_outputs:
            for body in output_messages(outcome.output(output.name)):
                await self.send(output, body)

    async def send(self, output: QueueOutput, body: str | bytes) -> None:
        client = self._queues.queue(output.connection, output.queue_name)
        text = encode_message(body, encoding=self._options.message_encoding)
        try:
            await client.send_message(text)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
            await client.send_message(text)

    async def _move_to_poison(self, function: FunctionSpec, message: StorageMessage, text: str) -> None:
        trigger = _queue_trigger(function)
        poison = self._queues.queue(trigger.connection, trigger.queue_name + POISON_SUFFIX)
        with contextlib.suppress(ResourceExistsError):
            await poison.create_queue()
        await poison.send_message(text)
        client = self._queues.queue(trigger.connection, trigger.queue_name)
        await client.delete_message(message, pop_receipt=message.pop_receipt)


def _queue_trigger(function: FunctionSpec) -> QueueTrigger:
    trigger = function.trigger
    if not isinstance(trigger, QueueTrigger):
        raise TypeError(f"{function.name} is not queue-triggered")
    return trigger
