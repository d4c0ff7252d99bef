"""Follow Bicep expressions across vars, params and module calls: app settings, references, default values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tree_sitter import Node

from tests.infra.bicep import (
    BicepFile,
    Resource,
    Template,
    decl_name,
    decl_value,
    decorator_names,
    get,
    literal,
    object_properties,
    param_default,
    string_value,
    text,
    walk,
    where,
)


class Unresolvable(Exception):
    """An expression the offline reader cannot follow (runtime value, unsupported function …)."""


@dataclass(frozen=True)
class Branch:
    """One side of a ``cond ? a : b`` that a setting sits in; two settings in opposite sides never coexist."""

    ternary: tuple[str, int]  # (file, byte offset) identifies the conditional expression
    consequence: bool


@dataclass(frozen=True)
class AppSetting:
    name: str
    value: Node
    file: BicepFile
    branches: tuple[Branch, ...]

    @property
    def location(self) -> str:
        return where(self.file.path, self.value)

    @property
    def conditional(self) -> bool:
        return bool(self.branches)


def _follow_identifier(template: Template, file: BicepFile, name: str) -> Iterator[tuple[BicepFile, Node]]:
    """Where a var or a module param gets its value: (file, expression) pairs; nothing for a root param."""
    var = file.var(name)
    if var is not None:
        yield file, decl_value(var)
        return
    if file.param(name) is None:
        raise Unresolvable(f"{where(file.path, file.root)}: {name!r} is neither a var nor a param")
    for call in template.callers(file):
        argument = get(call.params, name)
        if argument is not None:
            yield call.caller, argument
            continue
        default = param_default(file.param(name))  # type: ignore[arg-type]  # checked above
        if default is not None:
            yield file, default


def collect_keys(
    template: Template, file: BicepFile, expr: Node, branches: tuple[Branch, ...] = ()
) -> list[AppSetting]:
    """Every key an object expression can hold: literals, ``union(...)``, ternaries, vars and module params."""
    kind = expr.type
    if kind == "object":
        return [AppSetting(key, value, file, branches) for key, value in object_properties(expr)]
    if kind == "parenthesized_expression":
        return collect_keys(template, file, expr.named_children[0], branches)
    if kind == "ternary_expression":
        site = (str(file.path), expr.start_byte)
        consequence = expr.child_by_field_name("consequence")
        alternative = expr.child_by_field_name("alternative")
        assert consequence is not None
        assert alternative is not None
        return [
            *collect_keys(template, file, consequence, (*branches, Branch(site, consequence=True))),
            *collect_keys(template, file, alternative, (*branches, Branch(site, consequence=False))),
        ]
    if kind == "call_expression" and _function_name(expr) == "union":
        return [setting for arg in _arguments(expr) for setting in collect_keys(template, file, arg, branches)]
    if kind == "identifier":
        return [
            setting
            for source_file, value in _follow_identifier(template, file, text(expr))
            for setting in collect_keys(template, source_file, value, branches)
        ]
    raise Unresolvable(f"{where(file.path, expr)}: cannot list the keys of {text(expr)[:60]!r}")


def _function_name(call: Node) -> str:
    """``union`` for ``union(...)``, ``listKeys`` for ``stg.listKeys()``."""
    function = call.child_by_field_name("function")
    return text(function).rsplit(".", 1)[-1] if function is not None else ""


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments") or next(
        (child for child in call.named_children if child.type == "arguments"), None
    )
    return [] if arguments is None else [arg for arg in arguments.named_children if arg.type != "comment"]


def app_settings_resources(template: Template) -> list[Resource]:
    """``Microsoft.Web/sites/config`` resources named ``appsettings``."""
    return [
        res
        for res in template.deployed("Microsoft.Web/sites/config")
        if (name := res.get("name")) is not None and string_value(name) == "appsettings"
    ]


def app_settings(template: Template) -> list[AppSetting]:
    """Every app setting any ``appsettings`` config resource of the template can write."""
    found: list[AppSetting] = []
    for res in app_settings_resources(template):
        properties = res.get("properties")
        if properties is None:
            raise Unresolvable(f"{res.location}: appsettings without properties")
        found.extend(collect_keys(template, res.file, properties))
    return found


def _identifier_uses(expr: Node) -> Iterator[Node]:
    """Identifiers used as values in an expression (not object keys, property names or function names)."""
    for node in walk(expr):
        if node.type != "identifier" or node.parent is None:
            continue
        parent = node.parent
        if parent.type == "object_property" and parent.named_children[0] == node:
            continue
        if parent.type == "call_expression" and parent.child_by_field_name("function") == node:
            continue
        yield node


@dataclass(frozen=True)
class Reference:
    """A root-level param, or a function call, that an expression depends on."""

    file: BicepFile
    node: Node
    kind: str  # "param" or "call"
    name: str

    @property
    def secure(self) -> bool:
        return self.kind == "param" and "secure" in decorator_names(self.node)


def references(template: Template, file: BicepFile, expr: Node, _seen: frozenset[int] = frozenset()) -> list[Reference]:
    """Params (after following vars and module params up to main) and function calls an expression uses."""
    found: list[Reference] = []
    for node in walk(expr):
        if node.type == "call_expression":
            found.append(Reference(file, node, "call", _function_name(node)))
    for node in _identifier_uses(expr):
        name = text(node)
        declaration = file.var(name) or file.param(name)
        if declaration is None or declaration.id in _seen:
            continue  # resource/module symbols, function parameters, or already followed
        seen = _seen | {declaration.id}
        if declaration.type == "parameter_declaration":
            callers = [call for call in template.callers(file) if get(call.params, name) is not None]
            if not callers:
                found.append(Reference(file, declaration, "param", name))
            for call in callers:
                argument = get(call.params, name)
                assert argument is not None
                found.extend(references(template, call.caller, argument, seen))
        else:
            found.extend(references(template, file, decl_value(declaration), seen))
    return found


def evaluate(template: Template, file: BicepFile, expr: Node) -> Any:
    """Value of an expression when every root param takes its default (the parts settings need)."""
    kind = expr.type
    if kind in {"number", "boolean", "null"}:
        return literal(expr)
    if kind == "string":
        parts = []
        for child in expr.named_children:
            if child.type == "interpolation":
                parts.append(_as_text(evaluate(template, file, child.named_children[0])))
            else:
                parts.append(text(child))
        return "".join(parts)
    if kind == "array":
        return [evaluate(template, file, item) for item in expr.named_children if item.type != "comment"]
    if kind == "object":
        return {key: evaluate(template, file, value) for key, value in object_properties(expr)}
    if kind == "parenthesized_expression":
        return evaluate(template, file, expr.named_children[0])
    if kind == "ternary_expression":
        condition = evaluate(template, file, expr.child_by_field_name("condition"))  # type: ignore[arg-type]
        chosen = expr.child_by_field_name("consequence" if condition else "alternative")
        return evaluate(template, file, chosen)  # type: ignore[arg-type]
    if kind == "identifier":
        values = list(_follow_identifier(template, file, text(expr)))
        if values:
            source_file, value = values[0]
            return evaluate(template, source_file, value)
        default = param_default(file.param(text(expr)))  # type: ignore[arg-type]  # a root param
        if default is None:
            raise Unresolvable(f"{where(file.path, expr)}: param {text(expr)!r} has no default")
        return evaluate(template, file, default)
    if kind == "member_expression":
        owner = evaluate(template, file, expr.child_by_field_name("object"))  # type: ignore[arg-type]
        prop = expr.child_by_field_name("property")
        if not isinstance(owner, dict) or prop is None or text(prop) not in owner:
            raise Unresolvable(f"{where(file.path, expr)}: cannot evaluate {text(expr)[:60]!r} offline")
        return owner[text(prop)]
    if kind == "call_expression":
        args = [evaluate(template, file, arg) for arg in _arguments(expr)]
        return _call(_function_name(expr), args, where(file.path, expr))
    raise Unresolvable(f"{where(file.path, expr)}: cannot evaluate {text(expr)[:60]!r} offline")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # what ARM's string() gives for booleans
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# What ARM's environment() gives in Azure's global cloud, the one the offline checks evaluate for
# (https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-deployment#environment).
# Only the parts the templates read; another cloud gives its own suffixes (core.usgovcloudapi.net, …).
AZURE_CLOUD_ENVIRONMENT: dict[str, Any] = {
    "name": "AzureCloud",
    "suffixes": {"storage": "core.windows.net", "keyvaultDns": ".vault.azure.net"},
    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/"},
}


def _call(name: str, args: list[Any], location: str) -> Any:
    if name == "environment" and not args:
        return AZURE_CLOUD_ENVIRONMENT
    if name == "string" and len(args) == 1:
        return _as_text(args[0])
    if name == "join" and len(args) == 2:
        return args[1].join(args[0])
    if name == "empty" and len(args) == 1:
        return not args[0]
    if name in {"toLower", "toUpper"} and len(args) == 1:
        return args[0].lower() if name == "toLower" else args[0].upper()
    raise Unresolvable(f"{location}: function {name}() is not evaluated offline")


def trace(template: Template, file: BicepFile, expr: Node) -> list[tuple[BicepFile, Node]]:
    """Follow a bare var/param name to the expressions that give it its value (through module calls)."""
    if expr.type != "identifier":
        return [(file, expr)]
    name = text(expr)
    if file.var(name) is None and file.param(name) is None:
        return [(file, expr)]  # a resource or module symbol: already the source
    sources = list(_follow_identifier(template, file, name))
    if not sources:
        return [(file, expr)]  # a root param
    return [found for source_file, value in sources for found in trace(template, source_file, value)]


def decl_names(file: BicepFile, kind: str) -> list[str]:
    return [decl_name(decl) for decl in file.declarations(kind)]
