"""Helpers for the status page tests: a stack with the page's settings, a queue that records, form posts."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from shared import admin
from shared.handlers.common import Answer
from shared.queueing import POISON_DRAIN_LIMIT, QueuedWork, SetAside
from tests.sync.conftest import Stack

KEY = "status-page-key-0123456789"
ADMIN_ROLE = "SyncAdmin"


@dataclass
class RecordingQueue:
    """The work queue as a list: what the page queued, in order."""

    requests: list[QueuedWork] = field(default_factory=list)

    async def enqueue(self, request: QueuedWork, *, delay_seconds: int = 0) -> None:
        self.requests.append(request)

    async def drain_poison(
        self, handle: Callable[[SetAside], Awaitable[None]], *, limit: int = POISON_DRAIN_LIMIT
    ) -> int:
        return 0

    async def aclose(self) -> None:
        return None


def principal(*, roles: tuple[str, ...] = (), name: str = "ada@contoso.example") -> str:
    """``X-MS-CLIENT-PRINCIPAL`` as App Service authentication sends it (base64 JSON of the claims)."""
    claims = [{"typ": "name", "val": name}, {"typ": "oid", "val": "0000-ada"}]
    claims += [{"typ": "roles", "val": role} for role in roles]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(document).encode()).decode()


async def get(stack: Stack, headers: dict[str, str] | None = None, *, platform_auth: bool = False) -> Answer:
    return await admin.status_page(
        stack.services, method="GET", headers=headers or {}, body=b"", platform_auth=platform_auth
    )


async def post(
    stack: Stack, fields: dict[str, str], headers: dict[str, str] | None = None, *, platform_auth: bool = False
) -> Answer:
    return await admin.status_page(
        stack.services,
        method="POST",
        headers=headers or {},
        body=urlencode(fields).encode(),
        platform_auth=platform_auth,
    )


def token_of(page: Answer) -> str:
    """The token the page's forms carry (what a browser sends back with a button)."""
    found = re.search(r'name="token" value="([^"]+)"', page.body)
    assert found, "the page has no form token"
    return found.group(1)
