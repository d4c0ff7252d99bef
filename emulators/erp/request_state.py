"""What an ERP endpoint reaches through its request: the store and the change-hook sender (set by ``create_app``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from emulators.erp.hooks import HookSender
from emulators.erp.store import ErpStore


def store_of(request: Request) -> ErpStore:
    store: ErpStore = request.app.state.store
    return store


def notify(request: Request, *changes: Any) -> None:
    """Tell the hook's receivers about ``changes`` (none is configured in tests that leave hooks out)."""
    hooks: HookSender | None = request.app.state.hooks
    if hooks is not None:
        hooks.notify(*changes)
