"""All app settings, read once from the environment (Azure app settings, local.settings.json).

One pydantic-settings model. ``load_settings()`` turns any validation failure into one
``SettingsError`` naming every bad setting and never echoing a value (they may be secrets).
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.core.items import Field as ItemField
from shared.core.items import ItemKind
from shared.core.policy import DEFAULT_M365_OWNED_FIELDS, Direction, PrivateEvents, SyncPolicy
from shared.errors import SettingsError

CsvSet = Annotated[frozenset[str], NoDecode]

# The shared secrets that let a caller in: GRAPH_CLIENT_STATE (every notification), ERP_HOOK_SECRET (the
# hook's HMAC key) and ERP_API_KEY. An empty or short one is guessable, so it is refused at start.
MIN_SECRET_CHARS = 16
# graph-facts §2: Graph accepts a clientState of at most 128 characters (a longer one fails every subscribe).
MAX_CLIENT_STATE_CHARS = 128


# R29 and the clean-up: tenant-local night in Western Europe (the Functions host reads NCRONTAB in UTC).
DEFAULT_CLOSE_SCHEDULE = "0 0 1 * * *"
DEFAULT_CLEANUP_SCHEDULE = "0 30 1 * * *"
_SCHEDULE_FIELD = re.compile(r"^[0-9A-Za-z*/,-]+$")


def check_schedule(value: str) -> str:
    """A six-field NCRONTAB expression (second minute hour day month day-of-week), as the host reads it; the
    host itself refuses what this lets through but cannot parse, at start."""
    fields = value.split()
    if len(fields) != 6 or not all(_SCHEDULE_FIELD.match(field) for field in fields):
        raise ValueError("must be a six-field NCRONTAB expression, e.g. '0 0 1 * * *' (01:00 UTC daily)")
    return " ".join(fields)


def schedule_setting(name: str, default: str) -> str:
    """A timer's schedule from its app setting, read when the host indexes the functions (the app's own
    settings are read later, on first use); an unset or empty one is the default."""
    return check_schedule(os.environ.get(name, "").strip() or default)


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every setting the service reads. The env name of each field is its alias (upper case)."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, populate_by_name=True)

    # --- Microsoft Graph ---
    graph_tenant_id: str = Field(alias="GRAPH_TENANT_ID", min_length=1)
    graph_client_id: str = Field(alias="GRAPH_CLIENT_ID", min_length=1)
    graph_client_secret: SecretStr | None = Field(default=None, alias="GRAPH_CLIENT_SECRET")
    graph_client_certificate: SecretStr | None = Field(default=None, alias="GRAPH_CLIENT_CERTIFICATE")
    graph_base_url: str = Field(default="https://graph.microsoft.com/v1.0", alias="GRAPH_BASE_URL")
    graph_authority_host: str = Field(default="https://login.microsoftonline.com", alias="GRAPH_AUTHORITY_HOST")
    graph_notification_url: str = Field(default="", alias="GRAPH_NOTIFICATION_URL")
    graph_lifecycle_url: str = Field(default="", alias="GRAPH_LIFECYCLE_URL")
    graph_client_state: SecretStr = Field(alias="GRAPH_CLIENT_STATE")
    graph_subscription_minutes: int = Field(default=4230, alias="GRAPH_SUBSCRIPTION_MINUTES", ge=45, le=10080)

    # --- ERP ---
    erp_base_url: str = Field(alias="ERP_BASE_URL", min_length=1)
    erp_api_key: SecretStr = Field(alias="ERP_API_KEY")
    erp_hook_secret: SecretStr = Field(alias="ERP_HOOK_SECRET")
    erp_timeout_seconds: float = Field(default=20.0, alias="ERP_TIMEOUT_SECONDS", gt=0)

    # --- Storage (sync state and the work queue) ---
    storage_connection_string: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage"), alias="AzureWebJobsStorage"
    )
    storage_account_name: str | None = Field(default=None, alias="AzureWebJobsStorage__accountName")
    storage_client_id: str | None = Field(default=None, alias="AzureWebJobsStorage__clientId")
    storage_credential: str | None = Field(default=None, alias="AzureWebJobsStorage__credential")
    # DNS suffix of the storage endpoints (https://<account>.<service>.<suffix>): core.windows.net in Azure's
    # global cloud, core.usgovcloudapi.net in Azure Government, core.chinacloudapi.cn in Azure China.
    storage_endpoint_suffix: str = Field(
        default="core.windows.net", alias="STORAGE_ENDPOINT_SUFFIX", pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"
    )
    state_table_prefix: str = Field(default="sync", alias="STATE_TABLE_PREFIX", pattern=r"^[A-Za-z][A-Za-z0-9]{0,40}$")

    # --- Tenant sync policy ---
    sync_direction: Direction = Field(default=Direction.BOTH, alias="SYNC_DIRECTION")
    sync_direction_overrides: dict[str, Direction] = Field(default={}, alias="SYNC_DIRECTION_OVERRIDES")
    sync_activity_types: CsvSet = Field(
        default=frozenset({"meeting", "phone_call", "task"}), alias="SYNC_ACTIVITY_TYPES"
    )
    sync_leave_requests: bool = Field(default=False, alias="SYNC_LEAVE_REQUESTS")
    sync_leave_private: bool = Field(default=True, alias="SYNC_LEAVE_PRIVATE")
    sync_window_days: int = Field(default=31, alias="SYNC_WINDOW_DAYS", ge=1, le=365)
    sync_erp_lookback_hours: int = Field(default=24, alias="SYNC_ERP_LOOKBACK_HOURS", ge=0, le=24 * 30)
    sync_clock_skew_seconds: float = Field(default=2.0, alias="SYNC_CLOCK_SKEW_SECONDS", ge=0, le=300)
    sync_conflict_category: str = Field(default="Sync conflict", alias="SYNC_CONFLICT_CATEGORY", min_length=1)
    sync_include_categories: CsvSet = Field(default=frozenset(), alias="SYNC_INCLUDE_CATEGORIES")
    sync_exclude_categories: CsvSet = Field(default=frozenset(), alias="SYNC_EXCLUDE_CATEGORIES")
    sync_private_events: PrivateEvents = Field(default=PrivateEvents.SKIP, alias="SYNC_PRIVATE_EVENTS")
    sync_internal_domains: CsvSet = Field(default=frozenset(), alias="SYNC_INTERNAL_DOMAINS")
    sync_skip_internal_only: bool = Field(default=True, alias="SYNC_SKIP_INTERNAL_ONLY")
    sync_mass_delete_ratio: float = Field(default=0.5, alias="SYNC_MASS_DELETE_RATIO", gt=0, le=1)
    sync_field_ownership: dict[ItemKind, frozenset[ItemField]] = Field(default={}, alias="SYNC_FIELD_OWNERSHIP")
    # R18: ERP-created item types whose files an Outlook edit may change in the ERP (by default the ERP owns them).
    sync_outlook_files_for_erp_items: CsvSet = Field(default=frozenset(), alias="SYNC_OUTLOOK_FILES_FOR_ERP_ITEMS")

    # --- The daily jobs (shared/handlers/daily.py): six-field NCRONTAB schedules, in UTC ---
    sync_close_schedule: str = Field(default=DEFAULT_CLOSE_SCHEDULE, alias="SYNC_CLOSE_SCHEDULE")
    sync_cleanup_schedule: str = Field(default=DEFAULT_CLEANUP_SCHEDULE, alias="SYNC_CLEANUP_SCHEDULE")
    sync_close_lookback_days: int = Field(default=7, alias="SYNC_CLOSE_LOOKBACK_DAYS", ge=1, le=365)
    sync_retention_days: int = Field(default=30, alias="SYNC_RETENTION_DAYS", ge=1, le=3650)

    # --- The admin's status page (/api/status) ---
    # In Azure, App Service authentication signs the admin in; these app roles or group object ids may use it.
    status_page_admins: CsvSet = Field(default=frozenset(), alias="STATUS_PAGE_ADMINS")
    # Locally (no App Service authentication), the key that opens the page; never set in Azure.
    status_page_key: SecretStr | None = Field(default=None, alias="STATUS_PAGE_KEY")

    @field_validator(
        "graph_client_secret",
        "graph_client_certificate",
        "storage_connection_string",
        "storage_account_name",
        "storage_client_id",
        "storage_credential",
        "status_page_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # local.settings.json and Bicep leave unused optional settings as "": that means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("graph_client_state", "erp_api_key", "erp_hook_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        # The messages state the rule, never the value or its length.
        secret = value.get_secret_value()
        if not secret.strip():
            raise ValueError("must not be empty")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters (use a long random value)")
        if info.field_name == "graph_client_state" and len(secret) > MAX_CLIENT_STATE_CHARS:
            raise ValueError(f"must be at most {MAX_CLIENT_STATE_CHARS} characters (Graph's clientState limit)")
        return value

    @field_validator("status_page_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters (use a long random value)")
        return value

    @field_validator(
        "sync_activity_types",
        "sync_include_categories",
        "sync_exclude_categories",
        "sync_internal_domains",
        "status_page_admins",
        "sync_outlook_files_for_erp_items",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("sync_activity_types", "sync_outlook_files_for_erp_items")
    @classmethod
    def _known_types(cls, value: frozenset[str]) -> frozenset[str]:
        allowed = {kind.value for kind in ItemKind if kind is not ItemKind.LEAVE}
        unknown = sorted(value - allowed)
        if unknown:
            raise ValueError(f"unknown activity type(s) {unknown}; allowed: {sorted(allowed)}")
        return value

    @field_validator("sync_direction_overrides", "sync_field_ownership", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("sync_close_schedule", "sync_cleanup_schedule")
    @classmethod
    def _six_field_schedule(cls, value: str) -> str:
        return check_schedule(value)

    @field_validator("graph_base_url", "erp_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise ValueError("must be an https:// URL (plain http only on loopback)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_credential_each(self) -> Settings:
        if (self.graph_client_secret is None) == (self.graph_client_certificate is None):
            raise ValueError("set exactly one of GRAPH_CLIENT_SECRET and GRAPH_CLIENT_CERTIFICATE")
        if self.storage_connection_string is None and not self.storage_account_name:
            raise ValueError("set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__accountName")
        return self

    def storage_service_url(self, service: str) -> str:
        """``https://<account>.<service>.<suffix>`` of the identity-based storage account (``table``, ``queue``)."""
        return f"https://{self.storage_account_name}.{service}.{self.storage_endpoint_suffix}"

    @cached_property
    def policy(self) -> SyncPolicy:
        ownership = {**DEFAULT_M365_OWNED_FIELDS, **self.sync_field_ownership}
        return SyncPolicy(
            direction=self.sync_direction,
            direction_overrides={k.lower(): v for k, v in self.sync_direction_overrides.items()},
            activity_kinds=frozenset(ItemKind(v) for v in self.sync_activity_types),
            leave_requests=self.sync_leave_requests,
            leave_private=self.sync_leave_private,
            window_days=self.sync_window_days,
            erp_lookback_hours=self.sync_erp_lookback_hours,
            clock_skew_seconds=self.sync_clock_skew_seconds,
            conflict_category=self.sync_conflict_category,
            include_categories=self.sync_include_categories,
            exclude_categories=self.sync_exclude_categories,
            private_events=self.sync_private_events,
            internal_domains=frozenset(d.lower() for d in self.sync_internal_domains),
            skip_internal_only=self.sync_skip_internal_only,
            mass_delete_ratio=self.sync_mass_delete_ratio,
            m365_owned_fields_for_erp_items=ownership,
            m365_files_for_erp_items=frozenset(ItemKind(v) for v in self.sync_outlook_files_for_erp_items),
        )


def setting_names() -> frozenset[str]:
    """Every app setting name the model reads (the infra templates must set exactly these)."""
    return frozenset(field.alias or name for name, field in Settings.model_fields.items())


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate; one clear ``SettingsError`` naming each bad setting, values never shown."""
    try:
        if environ is None:
            return Settings()  # pydantic-settings fills the required fields from the environment
        return Settings.model_validate(environ)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            loc = ".".join(str(part) for part in item["loc"]) or "settings"
            problems.append(f"{loc}: {item['msg']}")
        raise SettingsError("Invalid app settings: " + "; ".join(problems)) from None
    except json.JSONDecodeError as error:
        raise SettingsError(f"Invalid app settings: a JSON setting is malformed ({error.msg})") from None
