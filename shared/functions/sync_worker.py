"""The queue-triggered per-user sync."""

from __future__ import annotations

import azure.functions as func

from shared import handlers
from shared.composition import services
from shared.queueing import SYNC_QUEUE

bp = func.Blueprint()


@bp.function_name("sync_user")
@bp.queue_trigger(arg_name="msg", queue_name=SYNC_QUEUE, connection="AzureWebJobsStorage")
async def sync_user(msg: func.QueueMessage) -> None:
    # A failed run is recorded for the admin, then raised: the host retries the message and, after
    # maxDequeueCount tries, moves it to sync-user-poison, which the safety-net timer drains into issues.
    await handlers.sync_message(await services(), msg.get_body())
