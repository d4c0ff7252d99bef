"""HTTP functions Graph calls: change notifications and lifecycle notifications (graph-facts §2)."""

from __future__ import annotations

import azure.functions as func

from shared import handlers
from shared.composition import services
from shared.handlers.common import body_too_large
from shared.telemetry import correlated

bp = func.Blueprint()


def _answer(answer: handlers.Answer) -> func.HttpResponse:
    return func.HttpResponse(answer.body, status_code=answer.status, mimetype=answer.mimetype)


# Anonymous: Graph cannot send a function key; every notification is checked by its clientState instead.
# A body over the cap is answered 413 before the services are even built.
@bp.function_name("graph_notifications")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    too_large = body_too_large(body)
    if too_large is not None:
        return _answer(too_large)
    # Answered at once: the notifications go on the queue as one message, the worker works out whose sync they
    # call for (issue 12: Graph wants an answer within 3 s, and slow answers get the endpoint throttled).
    with correlated():  # the syncs this notification queues carry its id to their runs' log records
        return _answer(
            await handlers.graph_notification_intake(
                await services(), body=body, validation_token=req.params.get("validationToken")
            )
        )


@bp.function_name("graph_lifecycle")
@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    too_large = body_too_large(body)
    if too_large is not None:
        return _answer(too_large)
    with correlated():
        return _answer(
            await handlers.graph_lifecycle(
                await services(), body=body, validation_token=req.params.get("validationToken")
            )
        )
