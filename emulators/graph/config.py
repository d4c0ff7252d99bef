"""Settings of the Graph emulator. Defaults follow graph-facts.md; tests scale them down."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class ThrottleSettings:
    """Per app and mailbox budget (page "Microsoft Graph throttling limits", Outlook service)."""

    requests_per_window: int = 10_000
    window_seconds: float = 600.0
    concurrency: int = 4
    # "150 MB of upload per 5 minutes" per app and mailbox (same page): attachment bytes, POSTed or PUT.
    upload_bytes_per_window: int = 150 * 1024 * 1024
    upload_window_seconds: float = 300.0


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Everything a test or the demo may want to change. Replaced whole by ``PUT /_emulator/settings``."""

    tenant_id: str = "00000000-0000-4000-8000-00000000c0de"
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    # Sources disagree (4,230 vs 10,080 minutes), so this is a setting, not a constant.
    max_subscription_minutes: int = 4230
    max_subscriptions_per_mailbox: int = 1000
    # How long notifications wait before a POST, so that several changes share one POST.
    notification_delay_ms: int = 50
    # Delays between delivery attempts, about 4 hours in all as Graph does; multiplied by retry_scale.
    retry_delays_seconds: tuple[float, ...] = (5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 3600.0, 3600.0)
    retry_scale: float = 1.0
    max_notifications_per_post: int = 100
    validation_timeout_seconds: float = 10.0
    delivery_timeout_seconds: float = 3.0
    token_lifetime_seconds: int = 3599
    # Graph's own page size for events lists ($top default) and a hint-less delta page.
    default_list_page_size: int = 10
    default_delta_page_size: int = 100
    # Graph only calls https endpoints; the emulator also allows plain http to these hosts.
    # How long an attachment upload session lives. Graph documents no value, only that the session (and the
    # token in its uploadUrl) expires at expirationDateTime, which PUTs do not extend (page "Attach large files
    # to Outlook messages or events").
    upload_session_minutes: int = 15
    http_notification_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
