"""Reading Graph change and lifecycle notifications (graph-facts §2); no I/O.

The body is untrusted: anything malformed raises ``MalformedNotification`` with a reason safe to
show the admin, and a ``clientState`` that does not match (compared in constant time) marks the
notification as forged, never as a reason to sync.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

from shared.errors import SyncError


class MalformedNotification(SyncError):
    """The POSTed body is not a Graph notification collection."""


@dataclass(frozen=True, kw_only=True)
class Notification:
    subscription_id: str
    change_type: str
    resource: str
    client_state_ok: bool
    lifecycle_event: str | None = None


def parse_notifications(body: bytes, *, client_state: str) -> list[Notification]:
    """``{"value": [...]}`` → notifications, each with its clientState checked."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedNotification("body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise MalformedNotification("body has no 'value' array")
    expected = client_state.encode()
    notifications = []
    for index, item in enumerate(document["value"]):
        if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
            raise MalformedNotification(f"value[{index}] has no subscriptionId")
        given = item.get("clientState")
        ok = isinstance(given, str) and hmac.compare_digest(given.encode(), expected)
        notifications.append(
            Notification(
                subscription_id=item["subscriptionId"],
                change_type=str(item.get("changeType", "")),
                resource=str(item.get("resource", "")),
                client_state_ok=ok,
                lifecycle_event=item.get("lifecycleEvent") if isinstance(item.get("lifecycleEvent"), str) else None,
            )
        )
    return notifications
