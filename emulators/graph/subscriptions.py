"""Subscriptions (page "Create subscription"): validation handshake, expiry limits, quota, change fan-out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from emulators.graph import ids
from emulators.graph.errors import GraphError
from emulators.graph.model import Subscription
from emulators.graph.notifications import Notifier, change_notification, lifecycle_notification
from emulators.graph.state import EmulatorState
from emulators.graph.timezones import format_utc_stamp

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
_RESOURCE = re.compile(r"^/?users/([^/?]+)/(?:calendar/)?events(?:\?.*)?$", re.IGNORECASE)


def _ext_error(status: int, message: str) -> GraphError:
    return GraphError(status, "ExtensionError", message)


def parse_expiry(value: Any, *, max_minutes: int, operation: str, current: datetime) -> datetime:
    if not isinstance(value, str):
        raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
    text = value.strip().replace("Z", "+00:00")
    frac = re.search(r"\.(\d{7,})", text)
    if frac:
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(400, "InvalidRequest", f"Invalid expirationDateTime '{value}'.") from None
    if moment.tzinfo is None:
        raise GraphError(400, "InvalidRequest", "expirationDateTime must carry a time zone offset.")
    if moment <= current:
        raise _ext_error(
            400,
            f"Operation: {operation}; Exception: [Status Code: BadRequest; Reason: "
            "Subscription expiration must be in the future.]",
        )
    if moment > current + timedelta(minutes=max_minutes):
        # The exact text Graph answers (microsoftgraph/microsoft-graph-docs issue 2988).
        raise _ext_error(400, f"Subscription expiration can only be {max_minutes} minutes in the future.")
    return moment


def render(sub: Subscription, tenant_id: str) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": sub.app_id,
        "changeType": ",".join(t for t in CHANGE_TYPES if t in sub.change_types),
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": format_utc_stamp(sub.expiration),
        "creatorId": sub.app_id,
        "includeResourceData": False,
        "latestSupportedTlsVersion": sub.latest_tls,
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
    }


class Subscriptions:
    def __init__(self, state: EmulatorState, notifier: Notifier, outbound: httpx.AsyncClient) -> None:
        self.state = state
        self.notifier = notifier
        self.outbound = outbound
        state.listeners.append(self.on_change)

    def _check_url(self, url: Any, field: str) -> str:
        if not isinstance(url, str) or not url:
            raise GraphError(400, "InvalidRequest", f"{field} is required.")
        parts = urlsplit(url)
        allowed = self.state.config.http_notification_hosts
        if parts.scheme != "https" and not (parts.scheme == "http" and (parts.hostname or "") in allowed):
            raise GraphError(400, "InvalidRequest", f"The {field} must use the https scheme.")
        return url

    async def _validate(self, url: str) -> None:
        """POST ``?validationToken=…``; the receiver must echo it as text/plain with 200 within 10 s."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {ids.new_guid()}"
        try:
            resp = await self.outbound.post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=self.state.config.validation_timeout_seconds,
            )
        except httpx.HTTPError:
            raise GraphError(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                "validation request.",
            ) from None
        if resp.status_code != 200:
            raise GraphError(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                "validation request.",
            )
        ctype = resp.headers.get("content-type", "")
        if not ctype.lower().startswith("text/plain") or resp.text != token:
            raise GraphError(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Response must exactly match validationToken query parameter.",
            )

    async def create(self, app_id: str, body: dict[str, Any]) -> Subscription:
        cfg = self.state.config
        change_types = frozenset(t.strip() for t in str(body.get("changeType") or "").split(",") if t.strip())
        if not change_types or not change_types <= set(CHANGE_TYPES):
            raise GraphError(400, "InvalidRequest", f"Invalid changeType '{body.get('changeType')}'.")
        resource = str(body.get("resource") or "")
        m = _RESOURCE.match(resource)
        if not m:
            raise _ext_error(
                400,
                "Operation: Create; Exception: [Status Code: BadRequest; Reason: The resource "
                f"'{resource}' is not supported for app-only subscriptions to events.]",
            )
        user = self.state.mailbox_user(m.group(1))
        notification_url = self._check_url(body.get("notificationUrl"), "notificationUrl")
        lifecycle = body.get("lifecycleNotificationUrl")
        lifecycle_url = self._check_url(lifecycle, "lifecycleNotificationUrl") if lifecycle else None
        client_state = body.get("clientState")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
            raise GraphError(400, "InvalidRequest", "clientState must be a string of at most 128 characters.")
        expiry = parse_expiry(
            body.get("expirationDateTime"),
            max_minutes=cfg.max_subscription_minutes,
            operation="Create",
            current=self.state.now(),
        )
        active = [
            s for s in self.state.subscriptions.values() if s.mailbox_id == user.id and s.is_active(self.state.now())
        ]
        if len(active) >= cfg.max_subscriptions_per_mailbox:
            raise _ext_error(
                403,
                "Operation: Create; Exception: [Status Code: Forbidden; Reason: The number of subscriptions "
                f"for this mailbox has reached the limit of {cfg.max_subscriptions_per_mailbox}.]",
            )
        await self._validate(notification_url)
        if lifecycle_url:
            await self._validate(lifecycle_url)
        sub = Subscription(
            id=ids.new_guid(),
            app_id=app_id,
            mailbox_id=user.id,
            resource=resource,
            change_types=change_types,
            notification_url=notification_url,
            lifecycle_url=lifecycle_url,
            expiration=expiry,
            client_state=client_state,
            latest_tls=str(body.get("latestSupportedTlsVersion") or "v1_2"),
            created=self.state.now(),
        )
        self.state.subscriptions[sub.id] = sub
        return sub

    def get(self, sub_id: str) -> Subscription:
        sub = self.state.subscriptions.get(sub_id)
        if sub is None or not sub.is_active(self.state.now()):
            raise GraphError(404, "ResourceNotFound", f"The object '{sub_id}' was not found.")
        return sub

    def renew(self, sub_id: str, body: dict[str, Any]) -> Subscription:
        sub = self.get(sub_id)
        if "expirationDateTime" in body:
            sub.expiration = parse_expiry(
                body["expirationDateTime"],
                max_minutes=self.state.config.max_subscription_minutes,
                operation="Update",
                current=self.state.now(),
            )
        if "notificationUrl" in body:
            sub.notification_url = self._check_url(body["notificationUrl"], "notificationUrl")
        if "lifecycleNotificationUrl" in body:
            raise GraphError(400, "InvalidRequest", "lifecycleNotificationUrl can only be set at creation.")
        return sub

    def delete(self, sub_id: str) -> None:
        self.get(sub_id)
        del self.state.subscriptions[sub_id]

    def reauthorize(self, sub_id: str) -> None:
        self.get(sub_id)

    def on_change(self, mailbox_id: str, event_id: str, change_type: str) -> None:
        current = self.state.now()
        event = self.state.mailboxes.get(mailbox_id, {}).get(event_id)
        change_key = event.change_key if event else None
        for sub in list(self.state.subscriptions.values()):
            if sub.mailbox_id != mailbox_id or change_type not in sub.change_types or not sub.is_active(current):
                continue
            self.notifier.enqueue(
                sub.notification_url,
                change_notification(
                    sub,
                    tenant_id=self.state.config.tenant_id,
                    event_id=event_id,
                    change_type=change_type,
                    change_key=change_key,
                ),
            )

    def lifecycle(self, sub_id: str, lifecycle_event: str) -> None:
        if lifecycle_event not in LIFECYCLE_EVENTS:
            raise GraphError(400, "InvalidRequest", f"Unknown lifecycleEvent '{lifecycle_event}'.")
        sub = self.state.subscriptions.get(sub_id)
        if sub is None:
            raise GraphError(404, "ResourceNotFound", f"The object '{sub_id}' was not found.")
        if not sub.lifecycle_url:
            raise GraphError(400, "InvalidRequest", "The subscription has no lifecycleNotificationUrl.")
        self.notifier.enqueue(
            sub.lifecycle_url,
            lifecycle_notification(sub, tenant_id=self.state.config.tenant_id, lifecycle_event=lifecycle_event),
        )
        if lifecycle_event == "subscriptionRemoved":
            del self.state.subscriptions[sub_id]
