"""Read Bicep templates offline: parse with tree-sitter-bicep, walk declarations, follow vars and module params.

The Bicep CLI cannot be installed here, so the checks in this folder work on the syntax tree. A
``Template`` is a main file plus every module it references (relative paths), optionally with some
file texts replaced so a test can show a check failing on a broken copy of the real template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
MAIN_BICEP = INFRA_DIR / "main.bicep"


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


def text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def where(path: Path, node: Node) -> str:
    """``file:line`` for messages, relative to the repo when possible."""
    try:
        shown = path.relative_to(REPO_ROOT)
    except ValueError:
        shown = path
    return f"{shown}:{node.start_point[0] + 1}"


@dataclass(frozen=True)
class BicepFile:
    path: Path
    root: Node

    @classmethod
    def parse(cls, source: str, *, path: Path) -> BicepFile:
        return cls(path=path, root=_parser().parse(source.encode("utf-8")).root_node)

    def syntax_problems(self) -> list[str]:
        """Every ERROR or MISSING node, as ``file:line: kind 'text'``."""
        problems: list[str] = []
        for node in walk(self.root):
            if node.is_error or node.is_missing:
                kind = "missing" if node.is_missing else "syntax error"
                problems.append(f"{where(self.path, node)}: {kind} {text(node)[:60]!r}")
        return problems

    def declarations(self, kind: str) -> Iterator[Node]:
        """Top-level declarations of one node type (``parameter_declaration``, ``output_declaration`` …)."""
        return (child for child in self.root.named_children if child.type == kind)

    def named(self, kind: str, name: str) -> Node | None:
        return next((decl for decl in self.declarations(kind) if decl_name(decl) == name), None)

    def param(self, name: str) -> Node | None:
        return self.named("parameter_declaration", name)

    def var(self, name: str) -> Node | None:
        return self.named("variable_declaration", name)


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def decl_name(decl: Node) -> str:
    """The symbolic name of a param/var/resource/module/output declaration."""
    first = next(child for child in decl.named_children if child.type == "identifier")
    return text(first)


def decl_value(decl: Node) -> Node:
    """The expression after ``=`` of a var, output or param default (last named child)."""
    return decl.named_children[-1]


def decorator_names(decl: Node) -> set[str]:
    """Names of the decorators written just above a declaration (``@secure()`` → ``secure``)."""
    previous = decl.prev_named_sibling
    if previous is None or previous.type != "decorators":
        return set()
    names = set()
    for decorator in previous.named_children:
        call = decorator.named_children[0]
        function = call.child_by_field_name("function") if call.type == "call_expression" else call
        if function is not None:
            names.add(text(function))
    return names


def param_default(decl: Node) -> Node | None:
    """The default value of a parameter declaration, if it has one."""
    children = decl.named_children
    return children[-1] if len(children) >= 3 and children[-1].type != "type" else None


def string_value(node: Node) -> str | None:
    """The text of a string literal without interpolation; None for anything else."""
    if node.type != "string" or any(child.type == "interpolation" for child in node.named_children):
        return None
    return "".join(text(child) for child in node.named_children if child.type in {"string_content", "escape_sequence"})


def literal(node: Node) -> Any:
    """Python value of a literal (string without interpolation, number, boolean, null); else ``node`` itself."""
    if node.type == "string":
        value = string_value(node)
        return node if value is None else value
    if node.type == "boolean":
        return text(node) == "true"
    if node.type == "number":
        return int(text(node))
    if node.type == "null":
        return None
    return node


def property_key(prop: Node) -> str | None:
    """The key of an ``object_property`` (identifier or quoted); None for a nested resource."""
    key = prop.named_children[0]
    if key.type == "identifier":
        return text(key)
    if key.type == "string":
        return string_value(key)
    return None


def object_properties(obj: Node) -> Iterator[tuple[str, Node]]:
    for prop in obj.named_children:
        if prop.type != "object_property":
            continue
        key = property_key(prop)
        if key is not None and len(prop.named_children) >= 2:
            yield key, prop.named_children[-1]


def get(obj: Node | None, *path: str) -> Node | None:
    """Follow object keys: ``get(body, "properties", "siteConfig", "ftpsState")``."""
    node = obj
    for key in path:
        if node is None or node.type != "object":
            return None
        node = next((value for name, value in object_properties(node) if name == key), None)
    return node


@dataclass(frozen=True)
class Resource:
    """One resource declaration; ``type`` is the full type without API version (nested types joined)."""

    file: BicepFile
    node: Node
    symbol: str
    type: str
    body: Node
    existing: bool

    @property
    def location(self) -> str:
        return where(self.file.path, self.node)

    def get(self, *path: str) -> Node | None:
        return get(self.body, *path)


def _resource_body(decl: Node) -> Node | None:
    for child in decl.named_children:
        if child.type == "object":
            return child
        if child.type == "if_statement":
            return next((grand for grand in child.named_children if grand.type == "object"), None)
    return None


def resources_in(file: BicepFile) -> Iterator[Resource]:
    def visit(decl: Node, parent_type: str | None) -> Iterator[Resource]:
        type_node = next(child for child in decl.named_children if child.type == "string")
        declared = (string_value(type_node) or "").split("@")[0]
        full_type = f"{parent_type}/{declared}" if parent_type and "/" not in declared else declared
        body = _resource_body(decl)
        if body is None:
            return
        existing = any(child.type == "existing" for child in decl.children)
        yield Resource(file, decl, decl_name(decl), full_type, body, existing)
        for prop in body.named_children:
            nested = prop.named_children[0] if prop.type == "object_property" and prop.named_children else None
            if nested is not None and nested.type == "resource_declaration":
                yield from visit(nested, full_type)

    for decl in file.declarations("resource_declaration"):
        yield from visit(decl, None)


@dataclass(frozen=True)
class ModuleCall:
    caller: BicepFile
    node: Node
    target: Path
    params: Node | None


@dataclass
class Template:
    """A main Bicep file and every local module it pulls in."""

    main: Path
    files: dict[Path, BicepFile] = field(default_factory=dict)

    @classmethod
    def load(cls, main: Path = MAIN_BICEP, *, overrides: Mapping[Path, str] | None = None) -> Template:
        """Parse ``main`` and its modules from disk, using ``overrides`` (path → text) where given."""
        overrides = {path.resolve(): source for path, source in (overrides or {}).items()}
        template = cls(main=main.resolve())
        pending = [template.main]
        while pending:
            path = pending.pop()
            if path in template.files:
                continue
            source = overrides[path] if path in overrides else path.read_text(encoding="utf-8")
            template.files[path] = BicepFile.parse(source, path=path)
            pending.extend(call.target for call in template.module_calls(template.files[path]))
        return template

    @classmethod
    def from_source(cls, source: str, *, name: str = "snippet.bicep") -> Template:
        """A one-file template from text (for small deliberately broken examples)."""
        path = Path("/snippets") / name
        return cls(main=path, files={path: BicepFile.parse(source, path=path)})

    @property
    def root(self) -> BicepFile:
        return self.files[self.main]

    def module_calls(self, file: BicepFile) -> list[ModuleCall]:
        calls = []
        for decl in file.declarations("module_declaration"):
            target = next(child for child in decl.named_children if child.type == "string")
            relative = string_value(target) or ""
            if ":" in relative:  # registry or template-spec module: not local, nothing to read
                continue
            body = _resource_body(decl)
            calls.append(ModuleCall(file, decl, (file.path.parent / relative).resolve(), get(body, "params")))
        return calls

    def callers(self, file: BicepFile) -> list[ModuleCall]:
        return [
            call for caller in self.files.values() for call in self.module_calls(caller) if call.target == file.path
        ]

    def resources(self, type_name: str | None = None) -> list[Resource]:
        found = [res for file in self.files.values() for res in resources_in(file)]
        if type_name is None:
            return found
        return [res for res in found if res.type.lower() == type_name.lower()]

    def deployed(self, type_name: str) -> list[Resource]:
        """Resources of a type that the template creates (``existing`` references left out)."""
        return [res for res in self.resources(type_name) if not res.existing]


def load_parameters_file(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8"))["parameters"])
