"""The admin's HTTP functions: the status page (``/api/status``) and the health check (``/api/health``)."""

from __future__ import annotations

import os

import azure.functions as func

from shared import admin
from shared.composition import services
from shared.handlers.common import Answer, body_too_large
from shared.telemetry import correlated

bp = func.Blueprint()


def _response(answer: Answer) -> func.HttpResponse:
    return func.HttpResponse(
        answer.body, status_code=answer.status, mimetype=answer.mimetype, headers=dict(answer.headers)
    )


def platform_auth_enabled() -> bool:
    """App Service authentication is on (the platform sets this): only then is X-MS-CLIENT-PRINCIPAL trusted."""
    return os.environ.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true"


# Anonymous at the Functions level: the page authenticates every request itself (App Service authentication's
# principal, or the status page key; shared/admin/auth.py). A function key would be a second, weaker secret.
@bp.function_name("status_page")
@bp.route(route="status", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def status_page(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    too_large = body_too_large(body)
    if too_large is not None:
        return _response(too_large)
    with correlated():  # a sync queued from the page carries this request's id to its run
        answer = await admin.status_page(
            await services(),
            method=req.method.upper(),
            headers=dict(req.headers),
            body=body,
            platform_auth=platform_auth_enabled(),
        )
    return _response(answer)


# Anonymous, for Azure's health check: it answers only "ok" or "unavailable".
@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    return _response(await admin.health(services))
