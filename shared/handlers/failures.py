"""Runs that fail as a whole (R31): the admin's ``run`` issue, with a reason safe to show and to log."""

from __future__ import annotations

import logging

from shared.composition import Services
from shared.safe_log import safe_text
from shared.settings import Settings
from shared.state.model import Issue, IssueKind

log = logging.getLogger(__name__)

RUN_ISSUE = "run"  # a user's run that failed as a whole; resolved by the next run that completes


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the app settings, to be kept out of issue text and logs."""
    values = (
        settings.graph_client_secret,
        settings.graph_client_certificate,
        settings.graph_client_state,
        settings.erp_api_key,
        settings.erp_hook_secret,
        settings.storage_connection_string,
        settings.status_page_key,
    )
    return [value.get_secret_value() for value in values if value is not None and value.get_secret_value()]


async def record_run_failure(services: Services, user_id: str, error: BaseException) -> str:
    """R31: a run that raised is listed for the admin (issue ``run``, kind FAILURE); the safe reason.

    Recording must not hide the failure itself: if the issue log cannot be written either, that is logged
    and the caller still raises the run's error.
    """
    secrets = secrets_of(services.settings)
    message = safe_text(str(error), secrets=secrets) or "no message"
    reason = f"the sync run failed ({type(error).__name__}): {message}; it is tried again on the next run"
    now = services.clock()
    try:
        await services.state.record_issue(
            Issue(user_id=user_id, key=RUN_ISSUE, kind=IssueKind.FAILURE, reason=reason, first_seen=now, last_seen=now)
        )
    except Exception as failure:
        log.warning("could not record a failed run for the admin (%s)", type(failure).__name__)
    log.warning("sync issue for user %s: %s: %s", safe_text(user_id, limit=100), IssueKind.FAILURE.value, reason)
    return reason
