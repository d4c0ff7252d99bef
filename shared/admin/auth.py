"""Who may open the status page, and the token its forms carry.

Two ways in, never anonymous:

- **In Azure: App Service authentication** (Entra ID sign-in) in front of the app. The platform signs the person
  in and passes ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON of their claims); the page admits them when one of their
  ``roles`` or ``groups`` claims is in ``STATUS_PAGE_ADMINS``. The header is trusted only when the platform says
  authentication is on (``WEBSITE_AUTH_ENABLED``): then it strips any such header a caller sent; anywhere else
  the header could be forged, so it is ignored.
- **Locally: the key** ``STATUS_PAGE_KEY``, sent as the header ``X-Status-Key`` or typed into the page's
  sign-in form (a POSTed field, never in the URL, no cookie).

Every form on the page carries a ``token``: an HMAC over who signed in and an expiry. With the key, the token
is the session (the key is not sent again and no cookie exists, so another site cannot make the browser act);
with App Service authentication, the session is the platform's cookie, and the token is what makes a POST
from another site fail (it cannot read the token). Either way an action without a valid token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.settings import Settings

KEY_HEADER = "x-status-key"
PRINCIPAL_HEADER = "x-ms-client-principal"
PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"
TOKEN_HOURS = 8  # how long a page's token (a key session, or a form's CSRF token) stays valid
MAX_PRINCIPAL_CHARS = 64 * 1024
_ADMIN_CLAIMS = ("roles", "groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
LOGIN_PATH = "/.auth/login/aad?post_login_redirect_uri=/api/status"


@dataclass(frozen=True)
class Admin:
    """A person let in: ``name`` is shown on the page, ``subject`` is what the page's token is bound to."""

    name: str
    subject: str


@dataclass(frozen=True)
class Refused:
    status: int  # 401: not signed in; 403: signed in but not an admin, or a form without a valid token
    reason: str


def _token_secret(settings: Settings) -> bytes:
    """The HMAC key of page tokens: the status page key, or else (App Service authentication only) the
    clientState secret, kept apart from its Graph use by the token's label."""
    secret = settings.status_page_key or settings.graph_client_state
    return secret.get_secret_value().encode()


def issue_token(settings: Settings, admin: Admin, now: datetime) -> str:
    expires = int((now + timedelta(hours=TOKEN_HOURS)).timestamp())
    return f"{expires}.{_mac(settings, admin.subject, expires)}"


def token_valid(settings: Settings, admin: Admin, token: str, now: datetime) -> bool:
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) < now.timestamp():
        return False
    return hmac.compare_digest(mac, _mac(settings, admin.subject, int(expires_text)))


def _mac(settings: Settings, subject: str, expires: int) -> str:
    message = f"status-page-token|{subject}|{expires}".encode()
    return hmac.new(_token_secret(settings), message, hashlib.sha256).hexdigest()


KEY_HOLDER = Admin(name="the status page key", subject="key")


def authenticate(
    settings: Settings,
    headers: Mapping[str, str],
    form: Mapping[str, str],
    *,
    platform_auth: bool,
    now: datetime,
) -> Admin | Refused:
    """The admin this request comes from, or why not (never says whether a key was close)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if platform_auth and PRINCIPAL_HEADER in lowered:
        return _principal(settings, lowered)
    key = settings.status_page_key
    if key is not None:
        given = lowered.get(KEY_HEADER) or form.get("key") or ""
        if given and hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
            return KEY_HOLDER
        if token_valid(settings, KEY_HOLDER, form.get("token", ""), now):
            return KEY_HOLDER
        if given:
            return Refused(401, "That key is not the status page key.")
    if platform_auth:
        return Refused(401, "Sign in with your organisation account to see the status page.")
    return Refused(401, "Enter the status page key (STATUS_PAGE_KEY) to see the status page.")


def _principal(settings: Settings, headers: Mapping[str, str]) -> Admin | Refused:
    claims = _claims(headers.get(PRINCIPAL_HEADER, ""))
    if claims is None:
        return Refused(401, "The sign-in could not be read; sign in again.")
    name = headers.get(PRINCIPAL_NAME_HEADER) or next(
        (value for typ, value in claims if typ in ("name", "preferred_username")), "signed-in user"
    )
    subject = next(
        (
            value
            for typ, value in claims
            if typ in ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier")
        ),
        name,
    )
    granted = {value for typ, value in claims if typ in _ADMIN_CLAIMS}
    if not granted & settings.status_page_admins:
        return Refused(403, f"Signed in as {name}, who is not one of the status page's admins (STATUS_PAGE_ADMINS).")
    return Admin(name=name, subject=f"principal:{subject}")


def _claims(encoded: str) -> list[tuple[str, str]] | None:
    """The (type, value) claims of ``X-MS-CLIENT-PRINCIPAL``, or None when it is not what App Service sends."""
    if len(encoded) > MAX_PRINCIPAL_CHARS:
        return None
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return None
    listed = document.get("claims") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        return None
    return [
        (str(claim.get("typ")), str(claim.get("val")))
        for claim in listed
        if isinstance(claim, dict) and "typ" in claim and "val" in claim
    ]
