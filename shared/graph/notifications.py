"""Reading Graph change and lifecycle notifications (graph-facts §2); no I/O.

The body is untrusted: anything malformed (not JSON, nested too deeply, a number too long to read, no
``value`` array, an item without a subscriptionId) raises ``MalformedNotification`` with a reason safe
to show the admin (it never quotes the body), and a ``clientState`` that does not match (compared in
constant time) marks the notification as forged, never as a reason to sync.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

from shared.errors import SyncError

# Graph's subscription ids are GUIDs (36 characters); anything far longer cannot be one of ours.
MAX_SUBSCRIPTION_ID_CHARS = 128
# graph-facts §2: the lifecycle events Graph sends; anything else is not a lifecycle event.
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})


class MalformedNotification(SyncError):
    """The POSTed body is not a Graph notification collection."""


@dataclass(frozen=True, kw_only=True)
class Notification:
    subscription_id: str
    change_type: str
    resource: str
    client_state_ok: bool
    lifecycle_event: str | None = None
    # resourceData: the event's id and the change key of the version notified (``@odata.etag`` W/"<key>").
    event_id: str | None = None
    change_key: str | None = None


def plausible_subscription_id(value: str) -> bool:
    """Could Graph have issued this id? Short, printable, valid Unicode; otherwise it is not ours."""
    return (
        0 < len(value) <= MAX_SUBSCRIPTION_ID_CHARS
        and value.isprintable()
        and not any(0xD800 <= ord(char) <= 0xDFFF for char in value)
    )


def _utf8(text: str) -> bytes:
    # JSON may carry lone surrogates ("\ud800"); they must compare unequal, not raise.
    return text.encode("utf-8", "surrogatepass")


def _load(body: bytes) -> object:
    try:
        return json.loads(body)
    except RecursionError:
        raise MalformedNotification("body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError, and numbers too long to convert
        raise MalformedNotification("body is not JSON") from None


def parse_notifications(body: bytes, *, client_state: str) -> list[Notification]:
    """``{"value": [...]}`` → notifications, each with its clientState checked."""
    document = _load(body)
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise MalformedNotification("body has no 'value' array")
    expected = _utf8(client_state)
    notifications = []
    for index, item in enumerate(document["value"]):
        if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
            raise MalformedNotification(f"value[{index}] has no subscriptionId")
        given = item.get("clientState")
        ok = isinstance(given, str) and hmac.compare_digest(_utf8(given), expected)
        event = item.get("lifecycleEvent")
        data = item.get("resourceData")
        data = data if isinstance(data, dict) else {}
        notifications.append(
            Notification(
                subscription_id=item["subscriptionId"],
                change_type=str(item.get("changeType", "")),
                resource=str(item.get("resource", "")),
                client_state_ok=ok,
                lifecycle_event=event if isinstance(event, str) and event in LIFECYCLE_EVENTS else None,
                event_id=_text(data.get("id")),
                change_key=_change_key(data.get("@odata.etag")),
            )
        )
    return notifications


MAX_RESOURCE_ID_CHARS = 512  # Graph's event ids are ~150 characters; a longer one is not Graph's


def _text(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_RESOURCE_ID_CHARS and value.isprintable():
        return value
    return None


def _change_key(etag: object) -> str | None:
    """``W/"CQAAABYAAADk..."`` → ``CQAAABYAAADk...`` (an event's ``@odata.etag`` wraps its changeKey)."""
    text = _text(etag)
    if text is None:
        return None
    key = text.removeprefix("W/").strip('"')
    return key or None
