"""The settings model: every setting named, read from the environment, refused clearly (issue 2, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.core.items import ItemKind
from shared.core.policy import Direction
from shared.errors import SettingsError
from shared.settings import load_settings, setting_names

ROOT = Path(__file__).resolve().parents[2]

VALID = {
    "GRAPH_TENANT_ID": "contoso.onmicrosoft.com",
    "GRAPH_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "GRAPH_CLIENT_SECRET": "very-secret-value",
    "GRAPH_CLIENT_STATE": "client-state-secret",
    "ERP_BASE_URL": "https://erp.example.com/sync-api",
    "ERP_API_KEY": "erp-key-secret-value",
    "ERP_HOOK_SECRET": "hook-secret-value-0123",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)


def test_valid_environment_builds_the_tenant_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """R1/R3: direction and activity types come from app settings as data."""
    _clear_env(monkeypatch)
    for name, value in {**VALID, "SYNC_DIRECTION": "erp_to_m365", "SYNC_ACTIVITY_TYPES": "meeting, task"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.policy.direction is Direction.ERP_TO_M365
    assert settings.policy.activity_kinds == {ItemKind.MEETING, ItemKind.TASK}
    assert settings.policy.window_days == 31  # R4: one month by default


def test_which_erp_items_files_outlook_may_change_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """R18 with R20/R21: by default the ERP owns an ERP item's files; the admin may name types Outlook may change,
    and an unknown type is refused at start."""
    _clear_env(monkeypatch)
    for name, value in VALID.items():
        monkeypatch.setenv(name, value)
    assert load_settings().policy.m365_files_for_erp_items == frozenset()
    monkeypatch.setenv("SYNC_OUTLOOK_FILES_FOR_ERP_ITEMS", "meeting")
    assert load_settings().policy.m365_files_for_erp_items == {ItemKind.MEETING}
    monkeypatch.setenv("SYNC_OUTLOOK_FILES_FOR_ERP_ITEMS", "memo")
    with pytest.raises(SettingsError, match="SYNC_OUTLOOK_FILES_FOR_ERP_ITEMS"):
        load_settings()


def test_invalid_setting_is_named_and_its_value_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value fails at start with one message naming the setting, not showing any value."""
    _clear_env(monkeypatch)
    for name, value in {**VALID, "SYNC_DIRECTION": "sideways", "SYNC_WINDOW_DAYS": "0"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "SYNC_DIRECTION" in message
    assert "SYNC_WINDOW_DAYS" in message
    assert "sideways" not in message
    assert "very-secret-value" not in message


def test_missing_required_settings_are_all_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every missing required setting is named in the one error."""
    _clear_env(monkeypatch)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    for name in (
        "GRAPH_TENANT_ID",
        "GRAPH_CLIENT_ID",
        "GRAPH_CLIENT_STATE",
        "ERP_BASE_URL",
        "ERP_API_KEY",
        "ERP_HOOK_SECRET",
    ):
        assert name in str(caught.value)


def test_exactly_one_graph_credential_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client secret or certificate, not both and not neither."""
    _clear_env(monkeypatch)
    for name, value in {**VALID, "GRAPH_CLIENT_CERTIFICATE": "-----BEGIN PRIVATE KEY-----"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="GRAPH_CLIENT_SECRET"):
        load_settings()


def test_plain_http_is_refused_except_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets travel only over TLS; plain http is for the local emulators on loopback."""
    _clear_env(monkeypatch)
    for name, value in {**VALID, "ERP_BASE_URL": "http://erp.example.com"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="ERP_BASE_URL"):
        load_settings()


SECRETS = ("GRAPH_CLIENT_STATE", "ERP_HOOK_SECRET", "ERP_API_KEY")


@pytest.mark.parametrize("name", SECRETS)
@pytest.mark.parametrize(
    "value",
    ["", " " * 20, "guessable-15chr"],
    ids=["empty", "blank", "15-characters"],
)
def test_empty_or_short_secrets_are_refused_by_name_without_echo(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Issue 9 part 7: an empty clientState let anyone in. The shared secrets (clientState, hook HMAC key, ERP
    API key) must be at least 16 characters; the error names the setting and shows neither value nor length."""
    _clear_env(monkeypatch)
    for key, given in {**VALID, name: value}.items():
        monkeypatch.setenv(key, given)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message
    assert [other for other in SECRETS if other != name and other in message] == []
    if value.strip():
        assert value not in message
        assert str(len(value)) not in message


def test_a_client_state_over_128_characters_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Graph accepts a clientState of at most 128 characters (graph-facts §2), so a longer one would fail every
    subscription; it is refused at start, named, not shown. Exactly 128 is accepted."""
    _clear_env(monkeypatch)
    for key, given in {**VALID, "GRAPH_CLIENT_STATE": "c" * 129}.items():
        monkeypatch.setenv(key, given)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "GRAPH_CLIENT_STATE" in str(caught.value)
    assert "c" * 129 not in str(caught.value)
    monkeypatch.setenv("GRAPH_CLIENT_STATE", "c" * 128)
    assert load_settings().graph_client_state.get_secret_value() == "c" * 128


def test_example_local_settings_list_every_setting() -> None:
    """local.settings.example.json names every setting the model reads (and the Functions runtime's own)."""
    example = json.loads((ROOT / "local.settings.example.json").read_text())
    assert setting_names() <= set(example["Values"])


def test_readme_explains_every_setting() -> None:
    """The README's settings table has a row for each setting."""
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in setting_names() if f"`{name}`" not in readme]
    assert missing == []
