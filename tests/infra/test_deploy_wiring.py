"""azd wiring (azure.yaml, main.parameters.json), callback URLs and outputs agree with the templates."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.infra.bicep import (
    INFRA_DIR,
    REPO_ROOT,
    Template,
    decl_name,
    decl_value,
    decorator_names,
    load_parameters_file,
    param_default,
    text,
)
from tests.infra.resolve import app_settings, evaluate, trace
from tests.infra.rules import ERP_HOOK_ROUTE, LIFECYCLE_ROUTE, NOTIFICATION_ROUTE


@pytest.fixture(scope="module")
def real_template() -> Template:
    return Template.load()


def test_parameters_file_names_only_real_parameters(real_template: Template) -> None:
    """Every entry of main.parameters.json is a parameter of main.bicep (a typo would be rejected by ARM)."""
    declared = {decl_name(p) for p in real_template.root.declarations("parameter_declaration")}
    assert set(load_parameters_file(INFRA_DIR / "main.parameters.json")) <= declared


def test_parameters_file_supplies_every_required_parameter(real_template: Template) -> None:
    """Parameters without a default come from azd's environment, so `azd up` never stops at a missing value."""
    required = {
        decl_name(p) for p in real_template.root.declarations("parameter_declaration") if param_default(p) is None
    }
    supplied = load_parameters_file(INFRA_DIR / "main.parameters.json")
    assert required <= set(supplied)
    assert all(re.fullmatch(r"\$\{[A-Z_]+(=[^}]*)?\}", supplied[name]["value"]) for name in required)


def test_parameters_file_never_carries_a_secret(real_template: Template) -> None:
    """Secure parameters are not wired from azd's plain-text .env file (they go to Key Vault, docs/deploy.md)."""
    secure = {
        decl_name(p) for p in real_template.root.declarations("parameter_declaration") if "secure" in decorator_names(p)
    }
    assert secure, "the template offers optional secure parameters for initial secret values"
    assert not secure & set(load_parameters_file(INFRA_DIR / "main.parameters.json"))


def test_azure_yaml_deploys_the_repo_as_a_python_function(real_template: Template) -> None:
    """azd deploys the repo root (function_app.py) as a Python Function App tagged with the same service name."""
    config = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert config["infra"]["path"] == "infra"
    assert config["infra"]["module"] == "main"
    ((service_name, service),) = config["services"].items()
    assert service == {"project": ".", "language": "python", "host": "function"}
    (site,) = real_template.deployed("Microsoft.Web/sites")
    tags = site.get("tags")
    assert tags is not None
    assert f"'azd-service-name': '{service_name}'" in text(tags)


@pytest.mark.parametrize(
    ("setting", "route"), [("GRAPH_NOTIFICATION_URL", NOTIFICATION_ROUTE), ("GRAPH_LIFECYCLE_URL", LIFECYCLE_ROUTE)]
)
def test_graph_callback_urls_point_at_the_app_routes(real_template: Template, setting: str, route: str) -> None:
    """Graph posts to https://<default host name> + the route of the matching function (graph-facts: https only)."""
    (found,) = [s for s in app_settings(real_template) if s.name == setting]
    ((file, node),) = trace(real_template, found.file, found.value)
    assert text(node).endswith(f"{route}'")
    (base,) = [text(n) for n in node.named_children if n.type == "interpolation"]
    base_var = file.var(base.strip("${}"))
    assert base_var is not None
    assert text(base_var).endswith("'https://${functionApp.properties.defaultHostName}'")


def test_outputs_are_what_the_admin_needs_next(real_template: Template) -> None:
    """main.bicep outputs the app name, the three callback URLs and the Key Vault name (issue 5), nothing else."""
    outputs = {decl_name(o): o for o in real_template.root.declarations("output_declaration")}
    assert set(outputs) == {
        "AZURE_FUNCTION_APP_NAME",
        "GRAPH_NOTIFICATION_URL",
        "GRAPH_LIFECYCLE_URL",
        "ERP_HOOK_URL",
        "AZURE_KEY_VAULT_NAME",
    }
    (function_app,) = [f for f in real_template.files.values() if f.path.name == "function-app.bicep"]
    erp_hook = function_app.named("output_declaration", "erpHookUrl")
    assert erp_hook is not None
    assert text(erp_hook).endswith(f"{ERP_HOOK_ROUTE}'")


def test_key_vault_secret_names_are_valid(real_template: Template) -> None:
    """Key Vault secret names allow only letters, digits and dashes (1-127 chars), else the reference never resolves."""
    declaration = real_template.root.var("secretNames")
    assert declaration is not None
    names = evaluate(real_template, real_template.root, decl_value(declaration))
    assert len(names) == 6
    assert all(re.fullmatch(r"[0-9A-Za-z-]{1,127}", name) for name in names.values())
