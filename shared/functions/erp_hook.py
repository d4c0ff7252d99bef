"""The HTTP function the ERP calls when records change (docs/erp-sync-api.yaml, the change hook)."""

from __future__ import annotations

import time

import azure.functions as func

from shared import handlers
from shared.composition import services
from shared.handlers.common import body_too_large
from shared.telemetry import correlated

bp = func.Blueprint()


# Anonymous: the call is authenticated by its HMAC signature, checked before anything is queued.
# A body over the cap (shared/handlers/common.py) is answered 413 unread, before the signature is checked.
@bp.function_name("erp_change_hook")
@bp.route(route="erp/hook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def erp_change_hook(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    with correlated():  # the syncs this call queues carry its id to their runs' log records
        answer = body_too_large(body) or await handlers.erp_hook(
            await services(), headers=dict(req.headers), body=body, now=time.time()
        )
    return func.HttpResponse(answer.body, status_code=answer.status, mimetype=answer.mimetype)
