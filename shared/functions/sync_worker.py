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
    # An exception here makes the host retry the message, then move it to sync-user-poison.
    await handlers.sync_message(await services(), msg.get_body())
