"""The admin's status page (``/api/status``) and the health check (``/api/health``).

``auth`` (who may see it, the form token), ``view`` (what it reads), ``page`` (the HTML), ``actions`` (its
buttons), ``health``. ``status_page`` is the handler the HTTP function calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from shared.admin import actions, auth, page
from shared.admin.health import health
from shared.admin.view import read_view
from shared.composition import Services
from shared.handlers.common import Answer

__all__ = ["health", "status_page"]
MAX_FORM_BYTES = 16 * 1024


def _html(status: int, body: str) -> Answer:
    return Answer(status, body, "text/html", page.HEADERS)


def read_form(body: bytes) -> dict[str, str] | None:
    """A urlencoded form body as fields (the last of a repeated name); None when it cannot be read."""
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        return None


async def status_page(
    services: Services, *, method: str, headers: Mapping[str, str], body: bytes, platform_auth: bool
) -> Answer:
    """GET shows the page (or the sign-in); POST signs in with the key or does an action, then shows the page."""
    form = read_form(body) if method == "POST" else {}
    if form is None:
        return _html(400, page.sign_in_page("The form could not be read.", key_form=False, login_path=None))
    settings, now = services.settings, services.clock()
    who = auth.authenticate(settings, headers, form, platform_auth=platform_auth, now=now)
    if isinstance(who, auth.Refused):
        key_form = settings.status_page_key is not None and who.status == 401
        login = auth.LOGIN_PATH if platform_auth and who.status == 401 else None
        return _html(who.status, page.sign_in_page(who.reason, key_form=key_form, login_path=login))
    notice = ""
    if method == "POST" and "action" in form:
        if not auth.token_valid(settings, who, form.get("token", ""), now):
            return _html(
                403, page.sign_in_page("The form has expired; open the page again.", key_form=False, login_path=None)
            )
        notice = await actions.perform(services, who, form)
    view = await read_view(services)
    return _html(
        200, page.status_page(view, admin_name=who.name, token=auth.issue_token(settings, who, now), notice=notice)
    )
