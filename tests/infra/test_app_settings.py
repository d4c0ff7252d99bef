"""The app settings in the templates equal the settings the code reads (shared.settings.setting_names())."""

from __future__ import annotations

import pytest

from shared.settings import setting_names
from tests.infra.bicep import INFRA_DIR, Template
from tests.infra.edits import edited
from tests.infra.resolve import app_settings
from tests.infra.rules import (
    EXCLUSIVE_SETTINGS,
    HOST_ONLY_SETTINGS,
    LOCAL_ONLY_SETTINGS,
    SIGN_IN_SETTINGS,
    app_setting_problems,
    policy_default_problems,
    secret_setting_names,
)

FA = "app/function-app.bicep"


@pytest.fixture(scope="module")
def real_template() -> Template:
    return Template.load()


def test_template_sets_exactly_the_settings_the_code_reads(real_template: Template) -> None:
    """Every setting the settings model reads is wired, nothing else but the commented allow-lists (issue 5)."""
    assert app_setting_problems(real_template) == []
    names = {setting.name for setting in app_settings(real_template)}
    assert names == (setting_names() - LOCAL_ONLY_SETTINGS) | HOST_ONLY_SETTINGS | SIGN_IN_SETTINGS


def test_allow_lists_name_only_what_they_explain() -> None:
    """The local-only and exclusive names are real settings of the model, host-only and sign-in ones are not read
    by it."""
    assert setting_names() >= LOCAL_ONLY_SETTINGS
    assert all(pair <= setting_names() for pair in EXCLUSIVE_SETTINGS)
    assert not (HOST_ONLY_SETTINGS & setting_names())
    assert not (SIGN_IN_SETTINGS & setting_names())


def test_graph_credential_settings_sit_in_opposite_branches(real_template: Template) -> None:
    """GRAPH_CLIENT_SECRET xor GRAPH_CLIENT_CERTIFICATE: the model requires exactly one, a parameter picks it."""
    found = {s.name: s for s in app_settings(real_template)}
    secret, certificate = found["GRAPH_CLIENT_SECRET"], found["GRAPH_CLIENT_CERTIFICATE"]
    assert len(secret.branches) == len(certificate.branches) == 1
    assert secret.branches[0].ternary == certificate.branches[0].ternary
    assert secret.branches[0].consequence != certificate.branches[0].consequence


def test_setting_read_by_code_but_missing_from_template_fails() -> None:
    """A setting removed from the template (still read by the code) is reported by name."""
    broken = edited("main.bicep", "  SYNC_WINDOW_DAYS: string(syncWindowDays)\n", "")
    assert "SYNC_WINDOW_DAYS: read by the code but never set in the template" in app_setting_problems(broken)


def test_setting_added_in_code_without_template_fails(real_template: Template) -> None:
    """A setting the code starts to read, and the template does not set, is reported by name."""
    problems = app_setting_problems(real_template, setting_names() | {"SYNC_WEEKEND_DAYS"})
    assert problems == ["SYNC_WEEKEND_DAYS: read by the code but never set in the template"]


def test_setting_in_template_not_read_by_code_fails() -> None:
    """A setting the template sets and the code never reads (typo, leftover) is reported by name."""
    broken = edited("main.bicep", "  SYNC_WINDOW_DAYS: string(syncWindowDays)\n", "  SYNC_WINDOW_DAY: '31'\n")
    problems = app_setting_problems(broken)
    assert "SYNC_WINDOW_DAY: set in the template but not read by the code" in problems
    assert "SYNC_WINDOW_DAYS: read by the code but never set in the template" in problems


def test_storage_connection_string_in_azure_fails() -> None:
    """AzureWebJobsStorage (connection string) is local-only: setting it in Azure is reported."""
    broken = edited(
        FA,
        "  AzureWebJobsStorage__credential: 'managedidentity'\n",
        "  AzureWebJobsStorage__credential: 'managedidentity'\n  AzureWebJobsStorage: 'UseDevelopmentStorage=true'\n",
    )
    assert any("AzureWebJobsStorage is local-only" in problem for problem in app_setting_problems(broken))


def test_both_graph_credentials_set_fails() -> None:
    """Setting the client secret unconditionally next to the certificate branch breaks 'exactly one'."""
    broken = edited(
        FA,
        "  ERP_API_KEY: '@Microsoft",
        "  GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/x/)'\n  ERP_API_KEY: '@Microsoft",
    )
    problems = app_setting_problems(broken)
    assert any(problem.startswith("GRAPH_CLIENT_CERTIFICATE/GRAPH_CLIENT_SECRET") for problem in problems), problems


def test_graph_credentials_in_unrelated_conditions_fail() -> None:
    """Two independent conditions could set both credentials or neither, so they must share one condition."""
    source = (INFRA_DIR / FA).read_text(encoding="utf-8")
    start = source.index("var graphCredentialSettings")
    end = source.index("\n\n", start)
    independent = (
        "var graphCredentialSettings = union(\n"
        "  graphCredentialKind == 'certificate'\n"
        "    ? { GRAPH_CLIENT_CERTIFICATE: '@Microsoft.KeyVault(SecretUri=x)' } : {},\n"
        "  graphCredentialKind != 'certificate'\n"
        "    ? { GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=y)' } : {}\n"
        ")"
    )
    problems = app_setting_problems(edited(FA, source[start:end], independent))
    assert any("opposite branches of one condition" in problem for problem in problems), problems


def test_setting_under_a_condition_fails() -> None:
    """A setting the code always reads must not depend on a condition (it would vanish on some deployments)."""
    broken = edited("main.bicep", "var serviceSettings = {", "var serviceSettings = empty(graphTenantId) ? {} : {")
    problems = app_setting_problems(broken)
    assert "SYNC_DIRECTION: set only under a condition; the code always reads it" in problems


def test_policy_parameters_default_to_the_code_defaults(real_template: Template) -> None:
    """SYNC_* (and other defaulted) parameters default to shared/settings.py's defaults (R1, R3, R4, R6)."""
    assert policy_default_problems(real_template) == []


@pytest.mark.parametrize(
    ("old", "new", "setting"),
    [
        ("param syncWindowDays int = 31", "param syncWindowDays int = 30", "SYNC_WINDOW_DAYS"),
        ("param syncDirection string = 'both'", "param syncDirection string = 'erp_to_m365'", "SYNC_DIRECTION"),
        (
            "param syncSkipInternalOnly bool = true",
            "param syncSkipInternalOnly bool = false",
            "SYNC_SKIP_INTERNAL_ONLY",
        ),
        ("array = [\n  'meeting'\n  'phone_call'\n  'task'\n]", "array = [\n  'meeting'\n]", "SYNC_ACTIVITY_TYPES"),
        (
            "param syncMassDeleteRatio string = '0.5'",
            "param syncMassDeleteRatio string = '0.25'",
            "SYNC_MASS_DELETE_RATIO",
        ),
    ],
)
def test_policy_default_differing_from_code_fails(old: str, new: str, setting: str) -> None:
    """A template default that drifts from the code default is reported with the setting's name."""
    problems = policy_default_problems(edited("main.bicep", old, new))
    assert any(problem.startswith(f"{setting}: template default") for problem in problems), problems


def test_policy_default_rejected_by_model_fails() -> None:
    """A default the settings model cannot parse (e.g. an unknown direction) is reported."""
    problems = policy_default_problems(edited("main.bicep", "string = 'both'", "string = 'sideways'"))
    assert any("rejected by the settings model" in problem for problem in problems), problems


def test_secret_settings_are_derived_from_the_model() -> None:
    """Secret-typed settings (SecretStr) set in Azure are the Graph credential, clientState and ERP secrets."""
    assert secret_setting_names() == {
        "GRAPH_CLIENT_SECRET",
        "GRAPH_CLIENT_CERTIFICATE",
        "GRAPH_CLIENT_STATE",
        "ERP_API_KEY",
        "ERP_HOOK_SECRET",
    }
