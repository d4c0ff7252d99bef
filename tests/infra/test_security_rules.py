"""Security rules read from the parsed templates, each shown to pass on the real template and fail on a broken copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.infra.bicep import Template
from tests.infra.edits import appended, edited
from tests.infra.rules import SECURITY_RULES


@pytest.fixture(scope="module")
def real_template() -> Template:
    return Template.load()


@pytest.mark.parametrize("rule", sorted(SECURITY_RULES))
def test_real_template_passes_security_rule(real_template: Template, rule: str) -> None:
    """The shipped templates satisfy every rule of issue 5 (HTTPS, TLS 1.2, no FTPS, no keys, Key Vault …)."""
    assert SECURITY_RULES[rule](real_template) == []


@dataclass(frozen=True)
class Broken:
    rule: str
    why: str
    make: Callable[[], Template]
    expect: str  # a fragment the violation message must contain

    def __str__(self) -> str:
        return f"{self.rule}-{self.why}"


FA = "app/function-app.bicep"
ST = "core/storage/storage-account.bicep"
KV = "core/security/key-vault.bicep"
RB = "app/rbac.bicep"
AL = "core/monitor/alerts.bicep"

BROKEN = [
    Broken("https_only", "site-http", lambda: edited(FA, "httpsOnly: true", "httpsOnly: false"), "httpsOnly"),
    Broken("https_only", "site-unset", lambda: edited(FA, "    httpsOnly: true\n", ""), "httpsOnly"),
    Broken(
        "https_only",
        "storage-http",
        lambda: edited(ST, "supportsHttpsTrafficOnly: true", "supportsHttpsTrafficOnly: false"),
        "supportsHttpsTrafficOnly",
    ),
    Broken(
        "minimum_tls", "site-tls10", lambda: edited(FA, "  minTlsVersion: '1.2'", "  minTlsVersion: '1.0'"), "minTls"
    ),
    Broken(
        "minimum_tls", "scm-tls11", lambda: edited(FA, "scmMinTlsVersion: '1.2'", "scmMinTlsVersion: '1.1'"), "scmMin"
    ),
    Broken(
        "minimum_tls",
        "storage-tls10",
        lambda: edited(ST, "minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"),
        "minimumTlsVersion",
    ),
    Broken("ftps_disabled", "ftps-only", lambda: edited(FA, "'Disabled'", "'FtpsOnly'"), "ftpsState"),
    Broken(
        "ftps_disabled",
        "scm-basic-auth",
        lambda: edited(
            FA,
            "name: 'scm'\n    properties: {\n      allow: false",
            "name: 'scm'\n    properties: {\n      allow: true",
        ),
        "basic publishing",
    ),
    Broken(
        "storage_shared_key_disabled",
        "shared-key-on",
        lambda: edited(ST, "allowSharedKeyAccess: false", "allowSharedKeyAccess: true"),
        "allowSharedKeyAccess",
    ),
    Broken(
        "storage_shared_key_disabled",
        "shared-key-default",
        lambda: edited(ST, "    allowSharedKeyAccess: false\n", ""),
        "allowSharedKeyAccess",
    ),
    Broken(
        "storage_no_public_blob_access",
        "account-public",
        lambda: edited(ST, "allowBlobPublicAccess: false", "allowBlobPublicAccess: true"),
        "allowBlobPublicAccess",
    ),
    Broken(
        "storage_no_public_blob_access",
        "container-public",
        lambda: edited(ST, "publicAccess: 'None'", "publicAccess: 'Blob'"),
        "publicAccess",
    ),
    Broken(
        "managed_identity_storage",
        "credential-not-identity",
        lambda: edited(FA, "__credential: 'managedidentity'", "__credential: 'connectionstring'"),
        "__credential",
    ),
    Broken(
        "managed_identity_storage",
        "client-id-not-identity",
        lambda: edited(FA, "__clientId: identityClientId", "__clientId: 'SystemAssigned'"),
        "__clientId",
    ),
    Broken(
        "managed_identity_storage",
        "deployment-by-key",
        lambda: edited(FA, "type: 'UserAssignedIdentity'", "type: 'StorageAccountConnectionString'"),
        "deployment storage",
    ),
    Broken(
        "managed_identity_storage",
        "listkeys-in-template",
        lambda: appended(
            ST, "var connection = 'AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value}'"
        ),
        "listKeys()",
    ),
    Broken(
        "no_secret_outputs",
        "secret-named-output",
        lambda: appended("main.bicep", "output ERP_HOOK_SECRET_NAME string = 'erp-hook-secret'"),
        "named like a secret",
    ),
    Broken(
        "no_secret_outputs",
        "connection-string-output",
        lambda: appended(
            "core/monitor/monitoring.bicep",
            "output connectionString string = applicationInsights.properties.ConnectionString",
        ),
        "named like a secret",
    ),
    Broken(
        "no_secret_outputs",
        "secure-param-output",
        lambda: appended("main.bicep", "output erpEndpointInfo string = erpApiKey"),
        "secure parameter 'erpApiKey'",
    ),
    Broken(
        "no_secret_outputs",
        "secure-param-through-module",
        lambda: appended(KV, "output stateHint string = take(graphClientState, 4)"),
        "secure parameter 'graphClientState'",
    ),
    Broken(
        "no_secret_outputs",
        "secure-output",
        lambda: appended(KV, "@secure()\noutput vaultLocation string = vault.location"),
        "@secure",
    ),
    Broken(
        "secrets_are_key_vault_references",
        "plain-text-secret",
        lambda: edited(
            FA,
            "ERP_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.erpApiKey}/)'",
            "ERP_API_KEY: 'erp-key-in-plain-text'",
        ),
        "ERP_API_KEY must be",
    ),
    Broken(
        "secrets_are_key_vault_references",
        "secure-param-in-setting",
        lambda: edited(
            "main.bicep", "  ERP_BASE_URL: erpBaseUrl\n", "  ERP_BASE_URL: '${erpBaseUrl}?key=${erpApiKey}'\n"
        ),
        "secure parameter 'erpApiKey'",
    ),
    Broken(
        "secrets_are_key_vault_references",
        "no-reference-identity",
        lambda: edited(FA, "    keyVaultReferenceIdentity: identityId\n", ""),
        "keyVaultReferenceIdentity",
    ),
    Broken(
        "key_vault_hardened",
        "no-purge-protection",
        lambda: edited(KV, "enablePurgeProtection: true", "enablePurgeProtection: false"),
        "enablePurgeProtection",
    ),
    Broken(
        "key_vault_hardened",
        "access-policies",
        lambda: edited(KV, "enableRbacAuthorization: true", "enableRbacAuthorization: false"),
        "enableRbacAuthorization",
    ),
    Broken(
        "monitoring_entra_only",
        "local-auth",
        lambda: edited("core/monitor/monitoring.bicep", "DisableLocalAuth: true", "DisableLocalAuth: false"),
        "DisableLocalAuth",
    ),
    Broken(
        "data_roles_assigned",
        "reader-instead-of-table-contributor",
        lambda: edited(
            "app/rbac.bicep",
            "storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'",
            "storageTableDataContributor: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'",
        ),
        "Storage Table Data Contributor",
    ),
    Broken(
        "flex_consumption_python",
        "consumption-y1",
        lambda: edited("core/host/flex-consumption-plan.bicep", "'FC1'", "'Y1'"),
        "FC1",
    ),
    Broken(
        "flex_consumption_python",
        "other-python",
        lambda: edited("main.bicep", "param pythonVersion string = '3.11'", "param pythonVersion string = '3.12'"),
        "runtime must be python",
    ),
    Broken(
        "admin_reads_state_tables",
        "contributor-instead-of-reader",
        lambda: edited(
            RB,
            "storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'",
            "storageTableDataReader: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'",
        ),
        "must be Storage Table Data Reader",
    ),
    Broken(
        "admin_reads_state_tables",
        "not-wired-from-main",
        lambda: edited("main.bicep", "    stateReaderPrincipalId: stateReaderPrincipalId\n", ""),
        "no role assignment gives the admin",
    ),
    Broken(
        "admin_reads_state_tables",
        "unconditional",
        lambda: edited(RB, "= if (!empty(stateReaderPrincipalId)) {", "= {"),
        "must be conditional",
    ),
    Broken(
        "admin_reads_state_tables",
        "scoped-to-key-vault",
        lambda: edited(
            RB,
            "roles.storageTableDataReader)\n  scope: storage",
            "roles.storageTableDataReader)\n  scope: vault",
        ),
        "scoped to the storage account",
    ),
    Broken(
        "alerts_reach_the_admin",
        "no-poison-alert",
        lambda: edited(AL, "query: queries.poisonQueue", "query: queries.failedRuns"),
        "no alert rule for poison queue",
    ),
    Broken(
        "alerts_reach_the_admin",
        "hard-coded-address",
        lambda: edited(AL, "emailAddress: alertEmailAddress", "emailAddress: 'ops@example.com'"),
        "must be a parameter",
    ),
    Broken(
        "alerts_reach_the_admin",
        "alert-without-action",
        lambda: edited(
            AL,
            "threshold: failedRunsPerHour\n"
            + "          failingPeriods: {\n            numberOfEvaluationPeriods: 1\n"
            + "            minFailingPeriodsToAlert: 1\n          }\n        }\n      ]\n    }\n"
            + "    autoMitigate: true\n    actions: {\n      actionGroups: [\n        actionGroup.id\n      ]",
            "threshold: failedRunsPerHour\n"
            + "          failingPeriods: {\n            numberOfEvaluationPeriods: 1\n"
            + "            minFailingPeriodsToAlert: 1\n          }\n        }\n      ]\n    }\n"
            + "    autoMitigate: true\n    actions: {\n      actionGroups: [\n      ]",
        ),
        "failed runs alert must notify the action group",
    ),
    Broken(
        "alerts_reach_the_admin",
        "subscription-alert-disabled",
        lambda: edited(
            AL,
            "only through the 15-minute safety net. See the runbook in docs/deploy.md.'\n"
            + "    severity: 2\n    enabled: true",
            "only through the 15-minute safety net. See the runbook in docs/deploy.md.'\n"
            + "    severity: 2\n    enabled: false",
        ),
        "subscription failures alert must be enabled",
    ),
    Broken(
        "python_versions_allowed",
        "unsupported-version",
        lambda: edited(FA, "@allowed([\n  '3.10'", "@allowed([\n  '3.9'\n  '3.10'"),
        "does not run Python 3.9",
    ),
    Broken(
        "python_versions_allowed",
        "tested-version-missing",
        lambda: edited("main.bicep", "  '3.10'\n  '3.11'\n  '3.12'\n", "  '3.10'\n  '3.12'\n"),
        "must include 3.11",
    ),
    Broken(
        "cloud_neutral_endpoints",
        "hard-coded-storage-suffix",
        lambda: edited(
            "main.bicep",
            "STORAGE_ENDPOINT_SUFFIX: environment().suffixes.storage",
            "STORAGE_ENDPOINT_SUFFIX: 'core.windows.net'",
        ),
        "STORAGE_ENDPOINT_SUFFIX must be environment()",
    ),
    Broken(
        "cloud_neutral_endpoints",
        "hard-coded-blob-url",
        lambda: appended(ST, "output blobUrl string = 'https://${storage.name}.blob.core.windows.net/'"),
        "hard-codes a global-cloud endpoint",
    ),
    Broken(
        "status_page_sign_in",
        "requires-authentication",
        lambda: edited(FA, "requireAuthentication: false", "requireAuthentication: true"),
        "requireAuthentication must be false",
    ),
    Broken(
        "status_page_sign_in",
        "redirects-to-login",
        lambda: edited(
            FA, "unauthenticatedClientAction: 'AllowAnonymous'", "unauthenticatedClientAction: 'RedirectToLoginPage'"
        ),
        "unauthenticatedClientAction must be 'AllowAnonymous'",
    ),
    Broken(
        "status_page_sign_in",
        "answers-401",
        lambda: edited(FA, "unauthenticatedClientAction: 'AllowAnonymous'", "unauthenticatedClientAction: 'Return401'"),
        "unauthenticatedClientAction must be 'AllowAnonymous'",
    ),
    Broken(
        "status_page_sign_in",
        "unconditional",
        lambda: edited(FA, "'config' = if (statusPageSignIn) {", "'config' = {"),
        "must be conditional on statusPageClientId",
    ),
    Broken(
        "status_page_sign_in",
        "not-configured",
        lambda: edited(FA, "name: 'authsettingsV2'", "name: 'authsettings'"),
        "no 'authsettingsV2' config",
    ),
    Broken(
        "status_page_sign_in",
        "global-cloud-issuer",
        lambda: edited(
            FA,
            "openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'",
            "openIdIssuer: 'https://sts.windows.net/${tenant().tenantId}/'",
        ),
        "openIdIssuer must be",
    ),
    Broken(
        "status_page_sign_in",
        "secret-setting-not-set",
        lambda: edited(
            FA,
            "var signInSecretSettingName = 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'",
            "var signInSecretSettingName = 'STATUS_PAGE_SIGN_IN_SECRET'",
        ),
        "clientSecretSettingName 'STATUS_PAGE_SIGN_IN_SECRET'",
    ),
    Broken(
        "secrets_are_key_vault_references",
        "sign-in-secret-in-plain-text",
        lambda: edited(
            FA,
            "? { MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: signInSecretReference }",
            "? { MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: 'the-client-secret' }",
        ),
        "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET must be",
    ),
]


def test_every_security_rule_has_a_broken_example() -> None:
    """Each rule is shown to fail at least once, so none of them can pass vacuously (issue 5 'Done when')."""
    assert {case.rule for case in BROKEN} == set(SECURITY_RULES)


@pytest.mark.parametrize("case", BROKEN, ids=str)
def test_security_rule_fails_on_broken_template(case: Broken) -> None:
    """A deliberately broken copy of the real template is rejected by the rule, naming what is wrong."""
    problems = SECURITY_RULES[case.rule](case.make())
    assert any(case.expect in problem for problem in problems), problems
