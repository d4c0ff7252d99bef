"""HTTP functions Graph calls: change notifications and lifecycle notifications (graph-facts §2)."""

from __future__ import annotations

import azure.functions as func

from shared import handlers
from shared.composition import services

bp = func.Blueprint()


def _answer(answer: handlers.Answer) -> func.HttpResponse:
    return func.HttpResponse(answer.body, status_code=answer.status, mimetype=answer.mimetype)


# Anonymous: Graph cannot send a function key; every notification is checked by its clientState instead.
@bp.function_name("graph_notifications")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(
        await handlers.graph_notification(
            await services(), body=req.get_body(), validation_token=req.params.get("validationToken")
        )
    )


@bp.function_name("graph_lifecycle")
@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(
        await handlers.graph_lifecycle(
            await services(), body=req.get_body(), validation_token=req.params.get("validationToken")
        )
    )
