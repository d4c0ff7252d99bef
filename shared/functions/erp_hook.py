"""The HTTP function the ERP calls when records change (docs/erp-sync-api.yaml, the change hook)."""

from __future__ import annotations

import time

import azure.functions as func

from shared import handlers
from shared.composition import services

bp = func.Blueprint()


# Anonymous: the call is authenticated by its HMAC signature, checked before anything is queued.
@bp.function_name("erp_change_hook")
@bp.route(route="erp/hook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def erp_change_hook(req: func.HttpRequest) -> func.HttpResponse:
    answer = await handlers.erp_hook(await services(), headers=dict(req.headers), body=req.get_body(), now=time.time())
    return func.HttpResponse(answer.body, status_code=answer.status, mimetype=answer.mimetype)
