"""The Graph emulator as a Starlette app: Graph under ``/v1.0``, the token endpoint, the control API."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from emulators.graph.config import EmulatorConfig
from emulators.graph.control import control_routes
from emulators.graph.dispatch import Call, decode_path, error_reply
from emulators.graph.errors import GraphError
from emulators.graph.notifications import Notifier
from emulators.graph.routes import GraphApi
from emulators.graph.state import EmulatorState
from emulators.graph.subscriptions import Subscriptions
from emulators.graph.uploads import session_app


class Emulator:
    """The pieces of one emulator instance, reachable as ``app.state.emulator``."""

    def __init__(self, config: EmulatorConfig, outbound: httpx.AsyncClient) -> None:
        self.initial_config = config
        self.outbound = outbound
        self.state = EmulatorState(config)
        self.notifier = Notifier(outbound=outbound, config=lambda: self.state.config)
        self.subscriptions = Subscriptions(self.state, self.notifier, outbound)
        self.api = GraphApi(self.state, self.subscriptions)

    def reset(self) -> None:
        """Back to the state right after start: no users, no events, initial settings."""
        self.state.reset()
        self.state.config = self.initial_config
        self.api.dispatcher.reset()
        self.notifier.clear()

    # Convenience for in-process tests that seed directly.
    def add_user(self, mail: str, display_name: str | None = None, **kwargs: Any) -> str:
        return self.state.add_user(mail=mail, display_name=display_name or mail, **kwargs).id


def _json_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if isinstance(body, bytes):
        return Response(content=body, status_code=status, headers=headers)
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(config: EmulatorConfig | None = None, *, outbound: httpx.AsyncClient | None = None) -> Starlette:
    """Build the emulator. ``outbound`` posts validation requests and notifications (tests pass an in-process one)."""
    owns_outbound = outbound is None
    client = outbound or httpx.AsyncClient()
    emu = Emulator(config or EmulatorConfig(), client)

    async def token(request: Request) -> Response:
        """Client-credentials grant as Entra ID answers it (page "OAuth 2.0 client credentials flow")."""
        form = parse_qs((await request.body()).decode())
        value = {k: v[0] for k, v in form.items()}
        if value.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "AADSTS70003: The app requested an unsupported grant type.",
                },
                status_code=400,
            )
        if not value.get("client_id"):
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "AADSTS900144: The request body "
                    "must contain the following parameter: 'client_id'.",
                },
                status_code=400,
            )
        if not value.get("client_secret") and not value.get("client_assertion"):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000216: "
                    "'client_assertion', 'client_secret' or 'request' is required for the "
                    "'client_credentials' grant type.",
                },
                status_code=401,
            )
        if not str(value.get("scope", "")).endswith("/.default"):
            return JSONResponse(
                {
                    "error": "invalid_scope",
                    "error_description": "AADSTS1002012: The provided value "
                    "for scope is not valid. Client credential flows must have a scope value with "
                    "/.default suffixed to the resource identifier.",
                },
                status_code=400,
            )
        access = emu.state.issue_token(value["client_id"])
        lifetime = emu.state.config.token_lifetime_seconds
        return JSONResponse(
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access}
        )

    async def openid_configuration(request: Request) -> Response:
        """Discovery document, so OIDC-aware clients find the token endpoint."""
        base = str(request.base_url).rstrip("/")
        tenant = request.path_params["tenant"]
        return JSONResponse(
            {
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "issuer": f"{base}/{tenant}/v2.0",
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "tenant_region_scope": "EU",
            }
        )

    async def graph(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        scheme, _, bearer = auth.partition(" ")
        app_id = emu.state.app_for_token(bearer.strip()) if scheme.lower() == "bearer" else None
        if app_id is None:
            message = "Access token is empty." if not bearer else "Access token validation failure. Invalid audience."
            reply = error_reply(GraphError(401, "InvalidAuthenticationToken", message))
            reply.headers["WWW-Authenticate"] = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'
            )
            return _json_response(reply.status, reply.body, reply.headers)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        full = decode_path(raw_path.decode("latin-1").split("?", 1)[0])
        path = full[len("/v1.0") :] or "/"
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                reply = error_reply(GraphError(400, "BadRequest", "Unable to read JSON request payload."))
                return _json_response(reply.status, reply.body, reply.headers)
        base = str(request.base_url).rstrip("/") + "/v1.0"
        call = Call(
            method=request.method,
            path=path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            prefer=request.headers.getlist("prefer"),
            body=body,
            app_id=app_id,
            base_url=base,
        )
        reply = await emu.api.dispatcher.run(call)
        return _json_response(reply.status, reply.body, reply.headers)

    async def upload_url(request: Request) -> Response:
        """An attachment upload session's pre-authenticated URL (``emulators.graph.uploads``): no bearer token,
        the raw bytes as the body, run through the dispatcher for the session's app."""
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = decode_path(raw_path.decode("latin-1").split("?", 1)[0])
        call = Call(
            method=request.method,
            path=path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            prefer=[],
            body=await request.body(),
            app_id=session_app(emu.state, path),
            base_url=str(request.base_url).rstrip("/") + "/v1.0",
            pre_authenticated=True,
        )
        reply = await emu.api.dispatcher.run(call)
        return _json_response(reply.status, reply.body, reply.headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emu.notifier.close()
        if owns_outbound:
            await client.aclose()

    app = Starlette(
        routes=[
            Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
            Mount("/_emulator", routes=control_routes(emu)),
            Route("/v1.0/{rest:path}", graph, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
            Route("/api/v2.0/{rest:path}", upload_url, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.emulator = emu
    return app
