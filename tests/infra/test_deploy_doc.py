"""docs/deploy.md covers the steps issue 5 asks for and names only real settings, routes and secrets."""

from __future__ import annotations

import re

import pytest

from shared.settings import setting_names
from tests.infra.bicep import INFRA_DIR, REPO_ROOT, Template, decl_name, decl_value
from tests.infra.resolve import evaluate
from tests.infra.rules import (
    ERP_HOOK_ROUTE,
    HOST_ONLY_SETTINGS,
    LIFECYCLE_ROUTE,
    NOTIFICATION_ROUTE,
    SIGN_IN_SETTINGS,
    STATUS_ROUTE,
)

DOC = REPO_ROOT / "docs" / "deploy.md"

# Shell variables the walkthrough defines itself (not settings).
SHELL_VARIABLES = frozenset({"APP_ID", "SP_OBJECT_ID", "NEW_SECRET", "SIGNIN_APP_ID"})


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def real_template() -> Template:
    return Template.load()


@pytest.mark.parametrize(
    "step",
    [
        "Calendars.ReadWrite",  # the permission the sync needs (issue 5)
        # RBAC for Applications in Exchange Online, scoped to the synced mailboxes (issue 13)
        "New-ManagementScope",
        "-RecipientRestrictionFilter",
        "New-ServicePrincipal -AppId",
        "-ObjectId <SP_OBJECT_ID>",
        '-Role "Application Calendars.ReadWrite"',
        "-CustomResourceScope",
        "Test-ServicePrincipalAuthorization",
        "stateReaderPrincipalId",  # the admin reads the state tables (issue 13)
        "alertEmailAddress",  # alerts to the admin (issue 13)
        ".funcignore",
        "## Runbook",
        "azd up",
        "az deployment group create",
        "az keyvault secret set",  # what to put in Key Vault
        "subscription-renewal timer",  # how the first sync starts
        "(R4)",  # the initial one-month pull
        # Sign-in for the status page: its own app registration, App Service authentication's callback, the admins
        "statusPageClientId",
        "/.auth/login/aad/callback",
        "STATUS_PAGE_ADMINS",
    ],
)
def test_deploy_doc_covers_step(doc: str, step: str) -> None:
    """The walkthrough takes an admin from nothing to a running sync (issue 5, 'docs/deploy.md')."""
    assert step in doc


def test_deploy_doc_names_every_key_vault_secret(doc: str, real_template: Template) -> None:
    """Each secret name the app settings reference is in the Key Vault table, so no reference stays unresolved."""
    declaration = real_template.root.var("secretNames")
    assert declaration is not None
    names = evaluate(real_template, real_template.root, decl_value(declaration))
    assert all(f"`{name}`" in doc for name in names.values())


def test_deploy_doc_lists_every_sync_policy_setting(doc: str) -> None:
    """Every SYNC_* setting the code reads is documented with its parameter (R1, R3, R4 …)."""
    assert all(f"`{name}`" in doc for name in setting_names() if name.startswith("SYNC_"))


def test_deploy_doc_names_only_real_settings_and_outputs(doc: str, real_template: Template) -> None:
    """Every UPPER_SNAKE name in the doc is a setting, a host setting, an output or an azd variable."""
    outputs = {decl_name(o) for o in real_template.root.declarations("output_declaration")}
    azd_variables = set(re.findall(r"\$\{([A-Z_]+)", (INFRA_DIR / "main.parameters.json").read_text(encoding="utf-8")))
    known = setting_names() | HOST_ONLY_SETTINGS | SIGN_IN_SETTINGS | outputs | azd_variables | SHELL_VARIABLES
    mentioned = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", doc))
    mentioned |= set(re.findall(r"\bAzureWebJobsStorage\w*", doc))
    assert mentioned
    assert mentioned <= known, sorted(mentioned - known)


def test_deploy_doc_names_only_real_routes(doc: str) -> None:
    """The doc names exactly the app's three webhook routes and the status page, and no other /api/ path."""
    routes = set(re.findall(r"/api/[a-z/]+[a-z]", doc))
    assert routes == {NOTIFICATION_ROUTE, LIFECYCLE_ROUTE, ERP_HOOK_ROUTE, STATUS_ROUTE}


def _code_blocks(doc: str) -> str:
    return "\n".join(re.findall(r"```[a-z]*\n(.*?)```", doc, flags=re.DOTALL))


@pytest.mark.parametrize(
    "command",
    [
        "New-ApplicationAccessPolicy",  # replaced by RBAC for Applications; Microsoft asks for no new ones
        "admin-consent",  # a tenant-wide grant would cover every mailbox, whatever the Exchange scope says
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",  # Graph's application role Calendars.ReadWrite in Entra ID
    ],
)
def test_deploy_doc_never_tells_the_admin_to_grant_tenant_wide_access(doc: str, command: str) -> None:
    """No command of the walkthrough grants Calendars.ReadWrite tenant-wide or creates an access policy."""
    assert command not in _code_blocks(doc)


@pytest.mark.parametrize(
    "failure",
    [
        "expiring client secret",
        "revoked permission",
        "throttling (429)",
        "a halted mass deletion (r11)",
        "the poison queue",
        "a lost delta token",
        "cannot be synced (r2)",
    ],
)
def test_runbook_covers_each_failure_issue_13_names(doc: str, failure: str) -> None:
    """The runbook has a section for each failure the admin may meet."""
    runbook = doc[doc.index("## Runbook") :].lower()
    assert f"### {failure}" in runbook or any(
        line.startswith("### ") and failure in line for line in runbook.splitlines()
    )


def test_doc_says_how_to_release_a_halted_deletion(doc: str) -> None:
    """R11: what the admin sees and how to let the deletions through (the status page's Release action)."""
    assert "status page's **Release** action" in " ".join(doc.split())
