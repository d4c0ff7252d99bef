"""Deployment rules read from the parsed templates. Each rule returns the list of violations (empty = pass)."""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from tree_sitter import Node

from shared.settings import Settings, setting_names
from tests.infra.bicep import (
    BicepFile,
    Resource,
    Template,
    decl_name,
    decl_value,
    decorator_names,
    get,
    literal,
    string_value,
    text,
    walk,
    where,
)
from tests.infra.resolve import (
    AppSetting,
    Unresolvable,
    app_settings,
    evaluate,
    references,
    trace,
)

# Routes of the HTTP functions (auth level anonymous; each verifies its own caller), as issue 5 names them.
NOTIFICATION_ROUTE = "/api/graph/notifications"
LIFECYCLE_ROUTE = "/api/graph/lifecycle"
ERP_HOOK_ROUTE = "/api/erp/hook"
# The admin's status page (shared/functions/status.py), also anonymous at the Functions level: it signs the admin in
# itself (App Service authentication's principal, or the key locally).
STATUS_ROUTE = "/api/status"

# --- Explicit allow-lists for the "settings equal the code" rule -------------------------------------------------

# Read by the code, but only for local runs (Azurite): in Azure the host and the code use the identity-based
# AzureWebJobsStorage__accountName/__credential/__clientId triplet, so a connection string must never be set there.
# STATUS_PAGE_KEY opens the status page where no App Service authentication stands in front of it (locally); in
# Azure the admin signs in with Entra ID (STATUS_PAGE_ADMINS), so a shared key must never be set there.
LOCAL_ONLY_SETTINGS = frozenset({"AzureWebJobsStorage", "STATUS_PAGE_KEY"})

# Set in Azure, read by the Functions host itself, not by our code: Application Insights ingestion with
# Entra ID authentication (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
# PYTHON_ENABLE_OPENTELEMETRY lets the Python worker stream its OpenTelemetry logs itself (shared/telemetry.py), so
# the host does not log them a second time (host.json telemetryMode OpenTelemetry).
HOST_ONLY_SETTINGS = frozenset(
    {
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "PYTHON_ENABLE_OPENTELEMETRY",
    }
)

# Set in Azure only when the status page's sign-in is configured (statusPageClientId), read by App Service
# authentication, not by our code: the client secret of the sign-in app registration, a Key Vault reference
# (https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad).
SIGN_IN_SETTINGS = frozenset({"MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"})

# The code requires exactly one of each pair (Settings._one_credential_each), so the template sets them in the
# two opposite branches of one conditional expression, chosen by a parameter.
EXCLUSIVE_SETTINGS = (frozenset({"GRAPH_CLIENT_SECRET", "GRAPH_CLIENT_CERTIFICATE"}),)


def _annotation_parts(annotation: Any) -> set[Any]:
    parts = {annotation}
    for arg in typing.get_args(annotation):
        parts |= _annotation_parts(arg)
    return parts


def secret_setting_names() -> frozenset[str]:
    """Settings the model types as ``SecretStr`` and that are set in Azure: these must be Key Vault references."""
    names = {
        field.alias or name
        for name, field in Settings.model_fields.items()
        if SecretStr in _annotation_parts(field.annotation)
    }
    return frozenset(names - LOCAL_ONLY_SETTINGS)


# --- App settings equal the settings model ------------------------------------------------------------------------


def app_setting_problems(template: Template, code_settings: frozenset[str] | None = None) -> list[str]:
    """The template's app settings equal what the code reads, minus local-only, plus host-only names."""
    expected = (setting_names() if code_settings is None else code_settings) - LOCAL_ONLY_SETTINGS
    try:
        found = app_settings(template)
    except Unresolvable as error:
        return [f"app settings cannot be read offline: {error}"]
    if not found:
        return ["no Microsoft.Web/sites/config 'appsettings' resource found"]
    problems: list[str] = []
    names = {setting.name for setting in found}
    problems += [f"{name}: read by the code but never set in the template" for name in sorted(expected - names)]
    unknown = names - expected - HOST_ONLY_SETTINGS - LOCAL_ONLY_SETTINGS - SIGN_IN_SETTINGS
    problems += [f"{name}: set in the template but not read by the code" for name in sorted(unknown)]
    for setting in found:
        if setting.name in LOCAL_ONLY_SETTINGS:
            problems.append(f"{setting.location}: {setting.name} is local-only and must not be set in Azure")
    problems += _conditional_problems(found)
    return problems


def _conditional_problems(found: list[AppSetting]) -> list[str]:
    problems: list[str] = []
    paired = frozenset().union(*EXCLUSIVE_SETTINGS)
    by_name: dict[str, list[AppSetting]] = {}
    for setting in found:
        by_name.setdefault(setting.name, []).append(setting)
    for name, settings in sorted(by_name.items()):
        if name not in paired and len(settings) > 1:
            problems.append(f"{name}: set {len(settings)} times ({', '.join(s.location for s in settings)})")
        if name not in paired | SIGN_IN_SETTINGS and any(s.conditional for s in settings):
            problems.append(f"{name}: set only under a condition; the code always reads it")
    for pair in EXCLUSIVE_SETTINGS:
        first, second = sorted(pair)
        a, b = by_name.get(first, []), by_name.get(second, [])
        if len(a) != 1 or len(b) != 1:
            problems.append(f"{first}/{second}: each must be set exactly once (found {len(a)} and {len(b)})")
            continue
        opposite = {(br.ternary, br.consequence) for br in a[0].branches} & {
            (br.ternary, not br.consequence) for br in b[0].branches
        }
        if not opposite:
            problems.append(
                f"{first}/{second}: must sit in opposite branches of one condition so exactly one is set "
                f"({a[0].location}, {b[0].location})"
            )
    return problems


def policy_default_problems(template: Template) -> list[str]:
    """Parameters behind settings the model gives a default (SYNC_* and the like) default to the same value."""
    try:
        found = app_settings(template)
    except Unresolvable as error:
        return [f"app settings cannot be read offline: {error}"]
    fields = {field.alias or name: (name, field) for name, field in Settings.model_fields.items()}
    checked = {
        alias
        for alias, (_, field) in fields.items()
        if alias.startswith("SYNC_") or (not field.is_required() and field.default not in (None, ""))
    }
    problems: list[str] = []
    environ: dict[str, str] = {}
    for setting in found:
        if setting.name not in checked:
            continue
        try:
            environ[setting.name] = str(evaluate(template, setting.file, setting.value))
        except Unresolvable as error:
            problems.append(f"{setting.name}: default value cannot be read offline ({error})")
    problems += [f"{name}: not set in the template" for name in sorted(checked - environ.keys())]
    # Only the template's values are checked; the required settings get placeholders so the model validates.
    placeholders = {
        "GRAPH_TENANT_ID": "t",
        "GRAPH_CLIENT_ID": "c",
        "GRAPH_CLIENT_SECRET": "s",
        "GRAPH_CLIENT_STATE": "placeholder-client-state",
        "ERP_BASE_URL": "https://erp.example",
        "ERP_API_KEY": "placeholder-erp-api-key",
        "ERP_HOOK_SECRET": "placeholder-hook-secret",
        "AzureWebJobsStorage__accountName": "a",
    }
    try:
        parsed = Settings.model_validate({**placeholders, **environ})
    except ValueError as error:
        return [*problems, f"template defaults are rejected by the settings model: {error}"]
    for alias in sorted(environ):
        name, field = fields[alias]
        if getattr(parsed, name) != field.default:
            problems.append(f"{alias}: template default {environ[alias]!r} differs from the code's {field.default!r}")
    return problems


# --- Security rules ------------------------------------------------------------------------------------------------


def _require(resources: list[Resource], what: str) -> list[str]:
    return [] if resources else [f"no {what} found in the template"]


def _is(node: Node | None, expected: Any) -> bool:
    return node is not None and literal(node) == expected


def _shown(node: Node | None) -> str:
    return "missing" if node is None else text(node)


def sites(template: Template) -> list[Resource]:
    return template.deployed("Microsoft.Web/sites")


def storage_accounts(template: Template) -> list[Resource]:
    return template.deployed("Microsoft.Storage/storageAccounts")


def https_only(template: Template) -> list[str]:
    """Function App: httpsOnly true; storage: HTTPS traffic only."""
    problems = _require(sites(template), "Microsoft.Web/sites")
    problems += _require(storage_accounts(template), "storage account")
    for site in sites(template):
        if not _is(site.get("properties", "httpsOnly"), True):
            shown = _shown(site.get("properties", "httpsOnly"))
            problems.append(f"{site.location}: httpsOnly must be true (is {shown})")
    for storage in storage_accounts(template):
        value = storage.get("properties", "supportsHttpsTrafficOnly")
        if not _is(value, True):
            problems.append(f"{storage.location}: supportsHttpsTrafficOnly must be true (is {_shown(value)})")
    return problems


def minimum_tls(template: Template) -> list[str]:
    """TLS 1.2 or later on the Function App (site and SCM) and on storage."""
    problems = _require(sites(template), "Microsoft.Web/sites")
    problems += _require(storage_accounts(template), "storage account")
    for site in sites(template):
        for key in ("minTlsVersion", "scmMinTlsVersion"):
            value = site.get("properties", "siteConfig", key)
            if value is None or literal(value) not in {"1.2", "1.3"}:
                problems.append(f"{site.location}: siteConfig.{key} must be '1.2' or later (is {_shown(value)})")
    for storage in storage_accounts(template):
        value = storage.get("properties", "minimumTlsVersion")
        if value is None or literal(value) not in {"TLS1_2", "TLS1_3"}:
            problems.append(f"{storage.location}: minimumTlsVersion must be 'TLS1_2' or later (is {_shown(value)})")
    return problems


def ftps_disabled(template: Template) -> list[str]:
    """FTP(S) off on the Function App, and basic publishing credentials for FTP and SCM refused."""
    problems = _require(sites(template), "Microsoft.Web/sites")
    for site in sites(template):
        value = site.get("properties", "siteConfig", "ftpsState")
        if not _is(value, "Disabled"):
            problems.append(f"{site.location}: siteConfig.ftpsState must be 'Disabled' (is {_shown(value)})")
    policies = template.deployed("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    named = {string_value(policy.get("name")) for policy in policies if policy.get("name") is not None}  # type: ignore[arg-type]
    problems += [f"basicPublishingCredentialsPolicies '{name}' missing" for name in sorted({"ftp", "scm"} - named)]
    for policy in policies:
        if not _is(policy.get("properties", "allow"), False):
            problems.append(f"{policy.location}: basic publishing credentials must not be allowed")
    return problems


def storage_shared_key_disabled(template: Template) -> list[str]:
    """Shared-key (account key, SAS) access is off, so only Entra ID identities reach storage."""
    problems = _require(storage_accounts(template), "storage account")
    for storage in storage_accounts(template):
        value = storage.get("properties", "allowSharedKeyAccess")
        if not _is(value, False):
            problems.append(f"{storage.location}: allowSharedKeyAccess must be false (is {_shown(value)})")
    return problems


def storage_no_public_blob_access(template: Template) -> list[str]:
    """No anonymous blob access, on the account and on every container."""
    problems = _require(storage_accounts(template), "storage account")
    for storage in storage_accounts(template):
        value = storage.get("properties", "allowBlobPublicAccess")
        if not _is(value, False):
            problems.append(f"{storage.location}: allowBlobPublicAccess must be false (is {_shown(value)})")
    for container in template.deployed("Microsoft.Storage/storageAccounts/blobServices/containers"):
        value = container.get("properties", "publicAccess")
        if value is not None and not _is(value, "None"):
            problems.append(f"{container.location}: container publicAccess must be 'None' (is {_shown(value)})")
    return problems


# Functions whose result is a key, SAS or connection string (list*, e.g. listKeys, listAccountSas).
_SECRET_FUNCTION = re.compile(r"^list[A-Z]\w*$")


def _secret_function_calls(file: BicepFile, node: Node) -> list[str]:
    problems = []
    for call in walk(node):
        if call.type != "call_expression":
            continue
        function = call.child_by_field_name("function")
        name = text(function).rsplit(".", 1)[-1] if function is not None else ""
        if _SECRET_FUNCTION.match(name):
            problems.append(f"{where(file.path, call)}: {name}() puts a key or secret into the deployment")
    return problems


def managed_identity_storage(template: Template) -> list[str]:
    """Storage is reached with the user-assigned identity: identity-based settings, no keys, identity deployment."""
    problems = _require(sites(template), "Microsoft.Web/sites")
    for file in template.files.values():
        problems += _secret_function_calls(file, file.root)
    for site in sites(template):
        identity_type = site.get("identity", "type")
        if not _is(identity_type, "UserAssigned"):
            problems.append(f"{site.location}: identity.type must be 'UserAssigned' (is {_shown(identity_type)})")
        auth = site.get("properties", "functionAppConfig", "deployment", "storage", "authentication", "type")
        if not _is(auth, "UserAssignedIdentity"):
            problems.append(f"{site.location}: deployment storage must authenticate as the user-assigned identity")
    try:
        found = {setting.name: setting for setting in app_settings(template)}
    except Unresolvable as error:
        return [*problems, f"app settings cannot be read offline: {error}"]
    credential = found.get("AzureWebJobsStorage__credential")
    if credential is None or literal(credential.value) != "managedidentity":
        problems.append("AzureWebJobsStorage__credential must be 'managedidentity'")
    if "AzureWebJobsStorage__accountName" not in found:
        problems.append("AzureWebJobsStorage__accountName must be set (identity-based host storage)")
    client = found.get("AzureWebJobsStorage__clientId")
    sources = [] if client is None else trace(template, client.file, client.value)
    if not sources or not all(text(node).endswith("clientId") for _, node in sources):
        problems.append("AzureWebJobsStorage__clientId must be the user-assigned identity's clientId")
    for setting in found.values():
        value = text(setting.value)
        if "AccountKey=" in value or "SharedAccessSignature=" in value:
            problems.append(f"{setting.location}: {setting.name} carries a storage key or SAS")
    return problems


# Words that make an output name look like it carries a secret. "keyVault…" names a resource, not a key.
_SECRET_WORDS = ("secret", "password", "passwd", "token", "key", "credential", "connectionstring", "clientstate", "sas")


def _looks_secret(name: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", name.lower()).replace("keyvault", "")
    return any(word in normalized for word in _SECRET_WORDS)


def no_secret_outputs(template: Template) -> list[str]:
    """No output is named like a secret, marked @secure, built from a secure param, or from a list*() call."""
    problems: list[str] = []
    for file in template.files.values():
        for output in file.declarations("output_declaration"):
            name = decl_name(output)
            here = where(file.path, output)
            if _looks_secret(name):
                problems.append(f"{here}: output {name!r} is named like a secret")
            if "secure" in decorator_names(output):
                problems.append(f"{here}: output {name!r} is @secure; outputs must never carry secrets")
            value = decl_value(output)
            problems += _secret_function_calls(file, value)
            for ref in references(template, file, value):
                if ref.secure:
                    problems.append(f"{here}: output {name!r} is built from the secure parameter {ref.name!r}")
    return problems


_KEY_VAULT_REFERENCE = re.compile(r"^'@Microsoft\.KeyVault\(SecretUri=.+\)'$", re.DOTALL)


def secrets_are_key_vault_references(template: Template) -> list[str]:
    """Secret settings are Key Vault references read with the user-assigned identity; no setting holds a secret."""
    problems = _require(sites(template), "Microsoft.Web/sites")
    for site in sites(template):
        identity = site.get("properties", "keyVaultReferenceIdentity")
        sources = [] if identity is None else trace(template, site.file, identity)
        if not sources or not all(text(node).endswith(".id") for _, node in sources):
            problems.append(f"{site.location}: keyVaultReferenceIdentity must be the user-assigned identity's id")
    try:
        found = app_settings(template)
    except Unresolvable as error:
        return [*problems, f"app settings cannot be read offline: {error}"]
    secret_names = secret_setting_names() | SIGN_IN_SETTINGS
    for setting in found:
        if setting.name in secret_names:
            for file, node in trace(template, setting.file, setting.value):
                if node.type != "string" or not _KEY_VAULT_REFERENCE.match(text(node)):
                    problems.append(
                        f"{where(file.path, node)}: {setting.name} must be '@Microsoft.KeyVault(SecretUri=…)'"
                    )
        for ref in references(template, setting.file, setting.value):
            if ref.secure:
                problems.append(f"{setting.location}: {setting.name} holds secure parameter {ref.name!r} in plain text")
    return problems


def key_vault_hardened(template: Template) -> list[str]:
    """Key Vault in RBAC mode with soft delete and purge protection."""
    vaults = template.deployed("Microsoft.KeyVault/vaults")
    problems = _require(vaults, "Key Vault")
    for vault in vaults:
        for key, expected in (("enablePurgeProtection", True), ("enableRbacAuthorization", True)):
            if not _is(vault.get("properties", key), expected):
                problems.append(f"{vault.location}: {key} must be {str(expected).lower()}")
        if _is(vault.get("properties", "enableSoftDelete"), False):
            problems.append(f"{vault.location}: enableSoftDelete must not be false")
        if vault.get("properties", "accessPolicies") is not None:
            problems.append(f"{vault.location}: access policies are not used in RBAC mode")
    return problems


def monitoring_entra_only(template: Template) -> list[str]:
    """Application Insights accepts only Entra ID-authenticated telemetry, on a Log Analytics workspace."""
    components = template.deployed("Microsoft.Insights/components")
    problems = _require(components, "Application Insights")
    for component in components:
        if not _is(component.get("properties", "DisableLocalAuth"), True):
            problems.append(f"{component.location}: DisableLocalAuth must be true")
        if component.get("properties", "WorkspaceResourceId") is None:
            problems.append(f"{component.location}: WorkspaceResourceId must point at a Log Analytics workspace")
    return problems


# Built-in roles the app's identity needs (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
REQUIRED_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
}


def data_roles_assigned(template: Template) -> list[str]:
    """The identity holds blob, queue and table data roles, the metrics publisher role and Key Vault secrets read."""
    assigned: set[str] = set()
    problems: list[str] = []
    for assignment in template.deployed("Microsoft.Authorization/roleAssignments"):
        role = assignment.get("properties", "roleDefinitionId")
        if role is None or role.type != "call_expression":
            problems.append(f"{assignment.location}: roleDefinitionId must be a resource id of a role definition")
            continue
        arguments = [arg for arg in role.named_children[-1].named_children if arg.type != "comment"]
        try:
            assigned.add(str(evaluate(template, assignment.file, arguments[-1])).lower())
        except Unresolvable as error:
            problems.append(str(error))
    problems += [f"no role assignment for {name}" for role, name in REQUIRED_ROLES.items() if role not in assigned]
    return problems


def flex_consumption_python(template: Template) -> list[str]:
    """An FC1 Flex Consumption plan and a Python runtime at the version the project tests with."""
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    problems: list[str] = []
    plans = template.deployed("Microsoft.Web/serverfarms")
    problems += _require(plans, "App Service plan") + _require(sites(template), "Microsoft.Web/sites")
    for plan in plans:
        if not (_is(plan.get("sku", "name"), "FC1") and _is(plan.get("sku", "tier"), "FlexConsumption")):
            problems.append(f"{plan.location}: the plan must be Flex Consumption FC1")
    for site in sites(template):
        runtime = site.get("properties", "functionAppConfig", "runtime")
        name, version_node = get(runtime, "name"), get(runtime, "version")
        version = None
        if version_node is not None:
            try:
                version = str(evaluate(template, site.file, version_node))
            except Unresolvable as error:
                problems.append(str(error))
        if not _is(name, "python") or version != tested:
            problems.append(f"{site.location}: runtime must be python {tested} (is {_shown(name)} {version})")
    return problems


# --- The admin's view (issue 13): state tables readable, alerts that reach a person, supported runtimes, clouds ---

# Storage Table Data Reader: read-only data access to the tables (the admin opens the Issues table with it).
STORAGE_TABLE_DATA_READER = "76199698-9eea-4c19-bc75-cec21354c6b6"
STATE_READER_PARAM = "stateReaderPrincipalId"


def _role_of(template: Template, assignment: Resource) -> str:
    """The role definition GUID of a role assignment (``subscriptionResourceId(..., <guid>)``), lower case."""
    role = assignment.get("properties", "roleDefinitionId")
    if role is None or role.type != "call_expression":
        raise Unresolvable(f"{assignment.location}: roleDefinitionId must be a resource id of a role definition")
    arguments = [arg for arg in role.named_children[-1].named_children if arg.type != "comment"]
    return str(evaluate(template, assignment.file, arguments[-1])).lower()


def _symbol_type(template: Template, file: BicepFile, symbol: str) -> str | None:
    """The resource type a symbolic name stands for in a file (``storage`` → Microsoft.Storage/storageAccounts)."""
    found = [res for res in template.resources() if res.file is file and res.symbol == symbol]
    return found[0].type if found else None


def _from_root_param(template: Template, file: BicepFile, node: Node, name: str | None = None) -> bool:
    """The expression's value is a parameter of main.bicep (``name`` if given), passed down unchanged."""
    sources = trace(template, file, node)
    return bool(sources) and all(
        source_file is template.root
        and source.type == "identifier"
        and source_file.param(text(source)) is not None
        and (name is None or text(source) == name)
        for source_file, source in sources
    )


def admin_reads_state_tables(template: Template) -> list[str]:
    """The admin named by a parameter gets Storage Table Data Reader on the storage account, nothing more."""
    problems: list[str] = []
    granted = []
    for assignment in template.deployed("Microsoft.Authorization/roleAssignments"):
        principal = assignment.get("properties", "principalId")
        if principal is not None and _from_root_param(template, assignment.file, principal, STATE_READER_PARAM):
            granted.append(assignment)
    if not granted:
        return [f"no role assignment gives the admin ({STATE_READER_PARAM}) read access to the state tables"]
    for assignment in granted:
        try:
            role = _role_of(template, assignment)
        except Unresolvable as error:
            problems.append(str(error))
            continue
        if role != STORAGE_TABLE_DATA_READER:
            problems.append(f"{assignment.location}: the admin's role must be Storage Table Data Reader (is {role})")
        scope = assignment.get("scope")
        scope_type = None if scope is None else _symbol_type(template, assignment.file, text(scope))
        if scope_type != "Microsoft.Storage/storageAccounts":
            problems.append(f"{assignment.location}: the admin's role must be scoped to the storage account")
        if not any(child.type == "if_statement" for child in assignment.node.named_children):
            problems.append(
                f"{assignment.location}: must be conditional: an empty {STATE_READER_PARAM} cannot be assigned"
            )
    return problems


# Each alert the runbook names, as fragments its log query must contain (infra/core/monitor/alerts.bicep).
REQUIRED_ALERTS: dict[str, tuple[str, ...]] = {
    "failed runs": ("requests", 'name == "sync_user"', "success == false"),
    "poison queue": ("traces", "had failed on every try"),
    "subscription failures": ("traces", "could not create or renew the Graph subscription"),
    "mass deletion": ("traces", "mass_delete"),  # R11: "an alert is raised instead of deleting"
}


def alert_queries(template: Template) -> list[tuple[Resource, str]]:
    """Every deployed log alert rule with its query text, evaluated offline."""
    found = []
    for rule in template.deployed("Microsoft.Insights/scheduledQueryRules"):
        all_of = rule.get("properties", "criteria", "allOf")
        for criterion in [] if all_of is None else all_of.named_children:
            query = get(criterion, "query")
            if query is not None:
                found.append((rule, str(evaluate(template, rule.file, query))))
    return found


def alerts_reach_the_admin(template: Template) -> list[str]:
    """Failed runs, the poison queue and subscription failures each raise an enabled alert whose action group
    e-mails the address given as a parameter."""
    groups = template.deployed("Microsoft.Insights/actionGroups")
    problems = _require(groups, "action group")
    for group in groups:
        receivers = group.get("properties", "emailReceivers")
        addresses = [
            address
            for node in ([] if receivers is None else walk(receivers))
            if node.type == "object" and (address := get(node, "emailAddress")) is not None
        ]
        if not addresses or not all(_from_root_param(template, group.file, address) for address in addresses):
            problems.append(f"{group.location}: the e-mail receiver's address must be a parameter of main.bicep")
    try:
        queries = alert_queries(template)
    except Unresolvable as error:
        return [*problems, f"alert queries cannot be read offline: {error}"]
    for signal, fragments in REQUIRED_ALERTS.items():
        rules = [rule for rule, query in queries if all(fragment in query for fragment in fragments)]
        if not rules:
            problems.append(f"no alert rule for {signal} (a log query with {', '.join(fragments)})")
        for rule in rules:
            if not _is(rule.get("properties", "enabled"), True):
                problems.append(f"{rule.location}: the {signal} alert must be enabled")
            targets = rule.get("properties", "actions", "actionGroups")
            items = [] if targets is None else [item for item in targets.named_children if item.type != "comment"]
            symbols = [text(item).removesuffix(".id") for item in items if text(item).endswith(".id")]
            if (
                not items
                or len(symbols) != len(items)
                or not all(
                    _symbol_type(template, rule.file, symbol) == "Microsoft.Insights/actionGroups" for symbol in symbols
                )
            ):
                problems.append(f"{rule.location}: the {signal} alert must notify the action group")
    return problems


# Python versions the Flex Consumption plan runs (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan).
FLEX_CONSUMPTION_PYTHON = frozenset({"3.10", "3.11", "3.12"})


def _allowed_values(decl: Node) -> list[Any] | None:
    """The values of a declaration's ``@allowed([...])`` decorator; None without one."""
    previous = decl.prev_named_sibling
    if previous is None or previous.type != "decorators":
        return None
    for decorator in previous.named_children:
        call = decorator.named_children[0]
        function = call.child_by_field_name("function") if call.type == "call_expression" else None
        if function is not None and text(function) == "allowed":
            (array,) = call.named_children[-1].named_children
            return [literal(item) for item in array.named_children if item.type != "comment"]
    return None


def python_versions_allowed(template: Template) -> list[str]:
    """Every ``pythonVersion`` parameter allows only versions Flex Consumption runs, the tested one among them."""
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    problems: list[str] = []
    declared = [(file, file.param("pythonVersion")) for file in template.files.values()]
    declared = [(file, decl) for file, decl in declared if decl is not None]
    if not declared:
        return ["no pythonVersion parameter found"]
    for file, decl in declared:
        allowed = _allowed_values(decl)
        here = where(file.path, decl)
        if allowed is None:
            problems.append(f"{here}: pythonVersion needs @allowed with the versions Flex Consumption runs")
            continue
        unsupported = sorted(str(v) for v in allowed if v not in FLEX_CONSUMPTION_PYTHON)
        if unsupported:
            problems.append(f"{here}: Flex Consumption does not run Python {', '.join(unsupported)}")
        if tested not in allowed:
            problems.append(f"{here}: @allowed must include {tested}, the version the project is tested on")
    return problems


# Endpoint suffixes of Azure's global cloud: a template that writes them out cannot deploy to another cloud.
PUBLIC_CLOUD_SUFFIXES = ("core.windows.net", "vault.azure.net", "azurewebsites.net")


def cloud_neutral_endpoints(template: Template) -> list[str]:
    """No Azure endpoint suffix is written out; STORAGE_ENDPOINT_SUFFIX is the deployment cloud's own."""
    problems: list[str] = []
    for file in template.files.values():
        for node in walk(file.root):
            if node.type == "string" and any(suffix in text(node) for suffix in PUBLIC_CLOUD_SUFFIXES):
                problems.append(f"{where(file.path, node)}: {text(node)[:60]} hard-codes a global-cloud endpoint")
    try:
        found = [setting for setting in app_settings(template) if setting.name == "STORAGE_ENDPOINT_SUFFIX"]
    except Unresolvable as error:
        return [*problems, f"app settings cannot be read offline: {error}"]
    sources = [source for setting in found for _, source in trace(template, setting.file, setting.value)]
    if not sources or not all(text(source) == "environment().suffixes.storage" for source in sources):
        problems.append("STORAGE_ENDPOINT_SUFFIX must be environment().suffixes.storage (the cloud deployed into)")
    return problems


# --- Sign-in for the status page: App Service authentication in front of the app, never in front of the webhooks ---

STATUS_PAGE_CLIENT_PARAM = "statusPageClientId"


def _config_named(template: Template, name: str) -> list[Resource]:
    return [
        res
        for res in template.deployed("Microsoft.Web/sites/config")
        if (node := res.get("name")) is not None and string_value(node) == name
    ]


def _condition(resource: Resource) -> Node | None:
    """The expression of ``resource ... = if (<condition>) {...}``; None for an unconditional resource."""
    for child in resource.node.named_children:
        if child.type == "if_statement":
            return next((grand for grand in child.named_children if grand.type != "object"), None)
    return None


def status_page_sign_in(template: Template) -> list[str]:
    """App Service authentication (authsettingsV2) signs the admin in with Entra ID, only when statusPageClientId is
    given; it never requires authentication globally and lets unauthenticated requests through (AllowAnonymous), so
    Graph's and the ERP's webhooks and /api/health stay reachable and the status page answers them 401 itself. The
    issuer is the deployment cloud's, and the client secret is a Key Vault reference."""
    problems = [
        f"{res.location}: classic 'authsettings' is not used; App Service authentication is 'authsettingsV2'"
        for res in _config_named(template, "authsettings")
    ]
    configs = _config_named(template, "authsettingsV2")
    if not configs:
        return [*problems, "no 'authsettingsV2' config: in Azure nobody could sign in to the status page"]
    try:
        found = {setting.name: setting for setting in app_settings(template)}
    except Unresolvable as error:
        return [*problems, f"app settings cannot be read offline: {error}"]
    for auth in configs:
        here = auth.location
        condition = _condition(auth)
        if condition is None or not any(
            ref.kind == "param" and ref.name == STATUS_PAGE_CLIENT_PARAM
            for ref in references(template, auth.file, condition)
        ):
            problems.append(f"{here}: must be conditional on {STATUS_PAGE_CLIENT_PARAM} (empty: no sign-in)")
        if not _is(auth.get("properties", "platform", "enabled"), True):
            problems.append(f"{here}: platform.enabled must be true")
        require = auth.get("properties", "globalValidation", "requireAuthentication")
        if not _is(require, False):
            problems.append(
                f"{here}: globalValidation.requireAuthentication must be false (is {_shown(require)}): "
                "the Graph and ERP webhooks and /api/health cannot sign in"
            )
        action = auth.get("properties", "globalValidation", "unauthenticatedClientAction")
        if not _is(action, "AllowAnonymous"):
            problems.append(
                f"{here}: globalValidation.unauthenticatedClientAction must be 'AllowAnonymous' (is {_shown(action)}): "
                "unauthenticated requests go to the app, whose status page answers 401"
            )
        aad = auth.get("properties", "identityProviders", "azureActiveDirectory")
        if not _is(get(aad, "enabled"), True):
            problems.append(f"{here}: identityProviders.azureActiveDirectory.enabled must be true")
        client = get(aad, "registration", "clientId")
        if client is None or not _from_root_param(template, auth.file, client, STATUS_PAGE_CLIENT_PARAM):
            problems.append(f"{here}: registration.clientId must be main.bicep's {STATUS_PAGE_CLIENT_PARAM}")
        issuer = get(aad, "registration", "openIdIssuer")
        issuer_text = "" if issuer is None else text(issuer)
        if "environment().authentication.loginEndpoint" not in issuer_text or not issuer_text.endswith("/v2.0'"):
            problems.append(
                f"{here}: registration.openIdIssuer must be "
                "'${environment().authentication.loginEndpoint}<tenant id>/v2.0' (the deployment cloud's sign-in)"
            )
        secret = get(aad, "registration", "clientSecretSettingName")
        if secret is not None:
            try:
                name = str(evaluate(template, auth.file, secret))
            except Unresolvable as error:
                problems.append(str(error))
                continue
            if name not in SIGN_IN_SETTINGS or name not in found:
                problems.append(
                    f"{here}: clientSecretSettingName {name!r} must be an app setting of SIGN_IN_SETTINGS that the "
                    "template sets (a Key Vault reference)"
                )
    return problems


SECURITY_RULES: dict[str, Callable[[Template], list[str]]] = {
    "https_only": https_only,
    "minimum_tls": minimum_tls,
    "ftps_disabled": ftps_disabled,
    "storage_shared_key_disabled": storage_shared_key_disabled,
    "storage_no_public_blob_access": storage_no_public_blob_access,
    "managed_identity_storage": managed_identity_storage,
    "no_secret_outputs": no_secret_outputs,
    "secrets_are_key_vault_references": secrets_are_key_vault_references,
    "key_vault_hardened": key_vault_hardened,
    "monitoring_entra_only": monitoring_entra_only,
    "data_roles_assigned": data_roles_assigned,
    "flex_consumption_python": flex_consumption_python,
    "admin_reads_state_tables": admin_reads_state_tables,
    "alerts_reach_the_admin": alerts_reach_the_admin,
    "python_versions_allowed": python_versions_allowed,
    "cloud_neutral_endpoints": cloud_neutral_endpoints,
    "status_page_sign_in": status_page_sign_in,
}
