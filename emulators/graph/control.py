"""The control API under ``/_emulator/`` for tests, the demo and the benchmarks (see README.md)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.graph import ids
from emulators.graph.config import EmulatorConfig, ThrottleSettings
from emulators.graph.errors import GraphError
from emulators.graph.model import Fault
from emulators.graph.timezones import format_utc_stamp

if TYPE_CHECKING:
    from emulators.graph.app import Emulator


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "BadRequest", "message": message}}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def settings_json(cfg: EmulatorConfig) -> dict[str, Any]:
    return {
        "throttle": {
            "requestsPerWindow": cfg.throttle.requests_per_window,
            "windowSeconds": cfg.throttle.window_seconds,
            "concurrency": cfg.throttle.concurrency,
            "uploadBytesPerWindow": cfg.throttle.upload_bytes_per_window,
            "uploadWindowSeconds": cfg.throttle.upload_window_seconds,
        },
        "uploadSessionMinutes": cfg.upload_session_minutes,
        "maxSubscriptionMinutes": cfg.max_subscription_minutes,
        "maxSubscriptionsPerMailbox": cfg.max_subscriptions_per_mailbox,
        "notificationDelayMs": cfg.notification_delay_ms,
        "retryScale": cfg.retry_scale,
        "retryDelaysSeconds": list(cfg.retry_delays_seconds),
        "defaultDeltaPageSize": cfg.default_delta_page_size,
        "tenantId": cfg.tenant_id,
    }


def apply_settings(cfg: EmulatorConfig, body: dict[str, Any]) -> EmulatorConfig:
    """A new config with the given subset of settings changed."""
    throttle = cfg.throttle
    t = body.get("throttle") or {}
    if t:
        throttle = ThrottleSettings(
            requests_per_window=int(t.get("requestsPerWindow", throttle.requests_per_window)),
            window_seconds=float(t.get("windowSeconds", throttle.window_seconds)),
            concurrency=int(t.get("concurrency", throttle.concurrency)),
            upload_bytes_per_window=int(t.get("uploadBytesPerWindow", throttle.upload_bytes_per_window)),
            upload_window_seconds=float(t.get("uploadWindowSeconds", throttle.upload_window_seconds)),
        )
    mapping = {
        "maxSubscriptionMinutes": ("max_subscription_minutes", int),
        "maxSubscriptionsPerMailbox": ("max_subscriptions_per_mailbox", int),
        "notificationDelayMs": ("notification_delay_ms", int),
        "retryScale": ("retry_scale", float),
        "defaultDeltaPageSize": ("default_delta_page_size", int),
        "uploadSessionMinutes": ("upload_session_minutes", int),
    }
    changes: dict[str, Any] = {"throttle": throttle}
    for key, (attr, kind) in mapping.items():
        if key in body:
            changes[attr] = kind(body[key])
    if "retryDelaysSeconds" in body:
        changes["retry_delays_seconds"] = tuple(float(x) for x in body["retryDelaysSeconds"])
    unknown = set(body) - set(mapping) - {"throttle", "retryDelaysSeconds"}
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    return dataclasses.replace(cfg, **changes)


def control_routes(emu: Emulator) -> list[Route]:
    state = emu.state

    async def add_user(request: Request) -> Response:
        try:
            body = await _json(request)
            user = state.add_user(
                user_id=body.get("id"),
                mail=str(body["mail"]),
                display_name=str(body.get("displayName") or body["mail"]),
                kind=str(body.get("kind") or "user"),
                has_mailbox=bool(body.get("hasMailbox", True)),
            )
        except (KeyError, ValueError) as exc:
            return _problem(400, f"invalid user: {exc}")
        except GraphError as exc:
            return _problem(exc.status, exc.message)
        return JSONResponse({"id": user.id, "mail": user.mail}, status_code=201)

    async def list_users(request: Request) -> Response:
        return JSONResponse(
            {
                "users": [
                    {
                        "id": u.id,
                        "mail": u.mail,
                        "displayName": u.display_name,
                        "kind": u.kind,
                        "hasMailbox": u.has_mailbox,
                    }
                    for u in state.users.values()
                ]
            }
        )

    async def reset(request: Request) -> Response:
        emu.reset()
        return Response(status_code=204)

    async def requests(request: Request) -> Response:
        counts = Counter(r.mailbox for r in state.requests if r.mailbox)
        return JSONResponse(
            {
                "requests": [
                    {"method": r.method, "path": r.path, "mailbox": r.mailbox, "status": r.status}
                    for r in state.requests
                ],
                "countsByMailbox": dict(counts),
            }
        )

    async def clear_requests(request: Request) -> Response:
        state.requests.clear()
        return Response(status_code=204)

    async def get_settings(request: Request) -> Response:
        return JSONResponse(settings_json(state.config))

    async def put_settings(request: Request) -> Response:
        try:
            state.config = apply_settings(state.config, await _json(request))
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        return JSONResponse(settings_json(state.config))

    async def add_fault(request: Request) -> Response:
        try:
            body = await _json(request)
            if body.get("path"):
                re.compile(str(body["path"]))
            fault = Fault(
                id=ids.new_guid(),
                method=body.get("method"),
                path=body.get("path"),
                mailbox=body.get("mailbox"),
                status=int(body["status"]) if body.get("status") is not None else None,
                count=int(body.get("count", 1)),
                retry_after=int(body["retryAfter"]) if body.get("retryAfter") is not None else None,
                delay_ms=int(body.get("delayMs") or 0),
                body=body.get("body"),
            )
        except (ValueError, TypeError, re.error) as exc:
            return _problem(400, f"invalid fault: {exc}")
        state.faults.append(fault)
        return JSONResponse({"id": fault.id}, status_code=201)

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return Response(status_code=204)

    async def expire_tokens(request: Request) -> Response:
        state.delta_generation += 1
        state.delta_states.clear()
        return Response(status_code=204)

    async def lifecycle(request: Request) -> Response:
        try:
            body = await _json(request)
            emu.subscriptions.lifecycle(request.path_params["sub"], str(body.get("lifecycleEvent")))
        except GraphError as exc:
            return _problem(exc.status, exc.message)
        return Response(status_code=202)

    async def list_subscriptions(request: Request) -> Response:
        return JSONResponse(
            {
                "subscriptions": [
                    {
                        "id": s.id,
                        "mailbox": s.mailbox_id,
                        "resource": s.resource,
                        "notificationUrl": s.notification_url,
                        "lifecycleNotificationUrl": s.lifecycle_url,
                        "expirationDateTime": format_utc_stamp(s.expiration),
                        "clientState": s.client_state,
                    }
                    for s in state.subscriptions.values()
                ]
            }
        )

    async def notifications(request: Request) -> Response:
        n = emu.notifier
        return JSONResponse(
            {
                "attempts": [
                    {"url": a.url, "status": a.status, "count": a.count, "attempt": a.attempt, "error": a.error}
                    for a in n.attempts
                ],
                "dropped": len(n.dropped),
                "pending": n.pending(),
            }
        )

    async def clock(request: Request) -> Response:
        try:
            body = await _json(request)
            minutes = float(body.get("advanceMinutes", 0))
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        if minutes < 0:
            return _problem(400, "the clock only moves forward")
        state.clock_offset += timedelta(minutes=minutes)
        return JSONResponse({"now": format_utc_stamp(state.now())})

    async def drain(request: Request) -> Response:
        wait = float(request.query_params.get("timeout", "10"))
        done = await emu.notifier.drain(wait)
        return Response(status_code=204 if done else 504)

    return [
        Route("/users", add_user, methods=["POST"]),
        Route("/users", list_users, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/requests", clear_requests, methods=["DELETE"]),
        Route("/settings", get_settings, methods=["GET"]),
        Route("/settings", put_settings, methods=["PUT"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/delta-tokens/expire", expire_tokens, methods=["POST"]),
        Route("/subscriptions", list_subscriptions, methods=["GET"]),
        Route("/subscriptions/{sub}/lifecycle", lifecycle, methods=["POST"]),
        Route("/notifications", notifications, methods=["GET"]),
        Route("/notifications/drain", drain, methods=["POST"]),
        Route("/clock", clock, methods=["POST"]),
    ]
