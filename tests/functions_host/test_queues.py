"""Queue-triggered functions fed from Azurite, with the real host's encoding, retry and poison rules."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import pytest
from azure.storage.queue.aio import QueueServiceClient

from emulators.functions_host import LocalFunctionsHost

FAST_RETRIES = {"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:00"}}}


@pytest.fixture
def queue_name() -> str:
    """A queue of this test alone: Azurite is shared by the whole session."""
    return f"fh-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def storage(azurite_connection_string: str) -> AsyncIterator[QueueServiceClient]:
    async with QueueServiceClient.from_connection_string(azurite_connection_string) as service:
        yield service


async def _send(storage: QueueServiceClient, queue: str, text: str) -> None:
    client = storage.get_queue_client(queue)
    if not await _exists(storage, queue):
        await client.create_queue()
    await client.send_message(text)


async def _exists(storage: QueueServiceClient, queue: str) -> bool:
    return queue in [item.name async for item in storage.list_queues(name_starts_with=queue)]


async def _texts(storage: QueueServiceClient, queue: str) -> list[str]:
    if not await _exists(storage, queue):
        return []
    messages = storage.get_queue_client(queue).peek_messages(max_messages=32)
    return [str(message.content) for message in await messages]


def _b64(body: str) -> str:
    return base64.b64encode(body.encode("utf-8")).decode("ascii")


def _recording_app(queue: str, seen: list[dict[str, Any]], *, fail: bool = False) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue, connection="AzureWebJobsStorage")
    async def on_message(msg: func.QueueMessage) -> None:
        seen.append(
            {
                "body": msg.get_body().decode("utf-8"),
                "id": msg.id,
                "dequeue_count": msg.dequeue_count,
                "insertion_time": msg.insertion_time,
                "expiration_time": msg.expiration_time,
                "pop_receipt": msg.pop_receipt,
            }
        )
        if fail:
            raise RuntimeError("cannot handle this message")

    return app


async def test_base64_message_is_decoded_passed_with_metadata_and_deleted(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """The body is the base64-decoded text; on success the message is deleted (Functions queue trigger, encoding)."""
    seen: list[dict[str, Any]] = []
    await _send(storage, queue_name, _b64('{"job": "sync", "n": 1}'))
    host = LocalFunctionsHost(
        _recording_app(queue_name, seen), environ={"AzureWebJobsStorage": azurite_connection_string}
    )
    await host.drain_queues(timeout=20)
    assert [entry["body"] for entry in seen] == ['{"job": "sync", "n": 1}']
    (entry,) = seen
    assert entry["dequeue_count"] == 1
    assert entry["id"]
    assert entry["pop_receipt"]
    assert entry["insertion_time"] < entry["expiration_time"]
    assert await _texts(storage, queue_name) == []


async def test_message_encoding_none_passes_the_text_unchanged(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """With messageEncoding "none" the message text is the body (host.json queues.messageEncoding)."""
    seen: list[dict[str, Any]] = []
    await _send(storage, queue_name, "plain text")
    host = LocalFunctionsHost(
        _recording_app(queue_name, seen),
        environ={"AzureWebJobsStorage": azurite_connection_string},
        host_json={"version": "2.0", "extensions": {"queues": {"messageEncoding": "none"}}},
    )
    await host.drain_queues(timeout=20)
    assert [entry["body"] for entry in seen] == ["plain text"]


async def test_failing_message_is_retried_then_moved_to_poison_queue(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """A message failing maxDequeueCount times goes, unchanged, to <queue>-poison and leaves the queue
    (Functions queue trigger, poison messages)."""
    seen: list[dict[str, Any]] = []
    text = _b64("bad job")
    await _send(storage, queue_name, text)
    host = LocalFunctionsHost(
        _recording_app(queue_name, seen, fail=True),
        environ={"AzureWebJobsStorage": azurite_connection_string},
        host_json=FAST_RETRIES,
    )
    await host.drain_queues(timeout=20)
    assert [entry["dequeue_count"] for entry in seen] == [1, 2, 3]
    assert await _texts(storage, queue_name) == []
    assert await _texts(storage, f"{queue_name}-poison") == [text]
    assert [invocation.succeeded for invocation in host.invocations] == [False, False, False]


async def test_message_that_is_not_base64_goes_to_poison_without_running(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """A badly encoded message is poisoned at once (azure-sdk-for-net PR 18326, Storage Queues extension)."""
    seen: list[dict[str, Any]] = []
    await _send(storage, queue_name, "not base64 {}")
    host = LocalFunctionsHost(
        _recording_app(queue_name, seen), environ={"AzureWebJobsStorage": azurite_connection_string}
    )
    await host.drain_queues(timeout=20)
    assert seen == []
    assert await _texts(storage, f"{queue_name}-poison") == ["not base64 {}"]


async def test_sync_handler_with_queue_output_feeds_the_next_function(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """func.Out values are sent base64-encoded after success and trigger the next function (queue output binding)."""
    app = func.FunctionApp()
    second_queue = f"{queue_name}-next"
    finished: list[str] = []

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="WorkStorage")
    @app.queue_output(arg_name="out", queue_name=second_queue, connection="WorkStorage")
    def first(msg: func.QueueMessage, out: func.Out[list[str]]) -> None:
        number = json.loads(msg.get_body())["n"]
        out.set([json.dumps({"n": number + 1}), json.dumps({"n": number + 2})])

    @app.queue_trigger(arg_name="item", queue_name=second_queue, connection="WorkStorage")
    def second(item: func.QueueMessage) -> None:
        finished.append(item.get_body().decode())

    await _send(storage, queue_name, _b64('{"n": 1}'))
    host = LocalFunctionsHost(app, environ={"WorkStorage": azurite_connection_string})
    await host.drain_queues(timeout=20)
    assert sorted(finished) == ['{"n": 2}', '{"n": 3}']
    assert await _texts(storage, second_queue) == []


async def test_missing_connection_setting_is_reported(queue_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection names an app setting; without it the host cannot poll and says which setting is missing."""
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    host = LocalFunctionsHost(_recording_app(queue_name, []), environ={})
    with pytest.raises(LookupError, match="AzureWebJobsStorage"):
        await host.drain_queues(timeout=5)


async def test_serving_with_polling_processes_messages_in_the_background(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """With poll_queues the host picks up new messages by itself, like the real queue listener."""
    seen: list[dict[str, Any]] = []
    host = LocalFunctionsHost(
        _recording_app(queue_name, seen), environ={"AzureWebJobsStorage": azurite_connection_string}, poll_interval=0.05
    )
    async with host.serving(port=0, poll_queues=True):
        await _send(storage, queue_name, _b64("background"))
        await host.drain_queues(timeout=20)  # returns once the poller (or drain) emptied the queue
    assert [entry["body"] for entry in seen] == ["background"]


async def test_return_value_queue_output_and_context_argument(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """A ``$return`` queue output sends the return value; ``context`` gets the function name (Python worker)."""
    app = func.FunctionApp()
    output_queue = f"{queue_name}-out"
    names: list[str] = []

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="$return", queue_name=output_queue, connection="AzureWebJobsStorage")
    async def forward(msg: func.QueueMessage, context: func.Context) -> str:
        names.append(context.function_name)
        return msg.get_body().decode().upper()

    await _send(storage, queue_name, _b64("forward me"))
    host = LocalFunctionsHost(app, environ={"AzureWebJobsStorage": azurite_connection_string})
    await host.drain_queues(timeout=20)
    assert names == ["forward"]
    assert await _texts(storage, output_queue) == [_b64("FORWARD ME")]


async def test_failed_function_sends_no_output(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """Outputs are only delivered when the function succeeds (the worker returns outputs with a success)."""
    app = func.FunctionApp()
    output_queue = f"{queue_name}-out"

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name=output_queue, connection="AzureWebJobsStorage")
    def half_done(msg: func.QueueMessage, out: func.Out[str]) -> None:
        out.set("should not be sent")
        raise RuntimeError("failed after setting the output")

    await _send(storage, queue_name, _b64("x"))
    host = LocalFunctionsHost(app, environ={"AzureWebJobsStorage": azurite_connection_string}, host_json=FAST_RETRIES)
    await host.drain_queues(timeout=20)
    assert await _texts(storage, output_queue) == []
    assert await _texts(storage, f"{queue_name}-poison") == [_b64("x")]


async def test_drain_waits_for_a_delayed_message_unless_told_not_to(
    azurite_connection_string: str, storage: QueueServiceClient, queue_name: str
) -> None:
    """A message sent with an initial visibility delay is in the queue: drain_queues waits for it by default
    and leaves it with include_invisible=False (Queue service: Put Message visibilitytimeout)."""
    seen: list[dict[str, Any]] = []
    await _send(storage, queue_name, _b64("first"))
    await storage.get_queue_client(queue_name).send_message(_b64("delayed"), visibility_timeout=2)
    host = LocalFunctionsHost(
        _recording_app(queue_name, seen), environ={"AzureWebJobsStorage": azurite_connection_string}
    )
    await host.drain_queues(timeout=20, include_invisible=False)
    assert [entry["body"] for entry in seen] == ["first"]
    await host.drain_queues(timeout=20)
    assert [entry["body"] for entry in seen] == ["first", "delayed"]
