"""HTTP route templates of Azure Functions (ASP.NET Core syntax) matched against request paths.

Supported: literals (case-insensitive), ``{name}``, ``{name:constraint}``, ``{name?}``, ``{name=default}``
and the catch-all ``{*rest}``. See https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#customize-the-http-endpoint
and https://learn.microsoft.com/aspnet/core/fundamentals/routing#route-constraints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\{(?P<catch_all>\*{1,2})?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}")
_CONSTRAINT_PATTERNS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "decimal": r"-?\d+(?:\.\d+)?",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
}
# Precedence of a segment kind, lower wins: literals beat parameters, catch-alls come last (as in ASP.NET).
_LITERAL, _CONSTRAINED, _PARAMETER, _OPTIONAL, _CATCH_ALL = range(5)


@dataclass(frozen=True)
class RouteTemplate:
    """One compiled route template, e.g. ``items/{id:int}``, relative to the route prefix."""

    template: str
    _regex: re.Pattern[str] = field(repr=False, compare=False)
    _defaults: dict[str, str] = field(repr=False, compare=False)
    precedence: tuple[int, ...] = field(repr=False, compare=False)

    @classmethod
    def compile(cls, template: str) -> RouteTemplate:
        segments = [segment for segment in template.strip("/").split("/") if segment]
        pattern = ""
        defaults: dict[str, str] = {}
        precedence: list[int] = []
        for segment in segments:
            part, kind = _segment_pattern(segment, defaults)
            pattern += part
            precedence.append(kind)
        return cls(template, re.compile(f"^{pattern}/?$", re.IGNORECASE), defaults, tuple(precedence))

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for ``path`` (already percent-decoded, relative to the prefix, leading '/'), or None."""
        found = self._regex.match(path if path.startswith("/") else "/" + path)
        if found is None:
            return None
        values = dict(self._defaults)
        values.update({name: value for name, value in found.groupdict().items() if value is not None})
        return values

    def sort_key(self) -> tuple[tuple[int, ...], int]:
        """Most specific first: segment kinds compared left to right, then longer templates first."""
        return (self.precedence, -len(self.precedence))


def _segment_pattern(segment: str, defaults: dict[str, str]) -> tuple[str, int]:
    tokens = list(_TOKEN.finditer(segment))
    if not tokens:
        return "/" + re.escape(segment), _LITERAL
    if len(tokens) == 1 and tokens[0].span() == (0, len(segment)):
        token = tokens[0]
        name, rest = token["name"], token["rest"]
        if token["catch_all"]:
            return f"(?:/(?P<{name}>.*))?", _CATCH_ALL
        value, optional, constrained = _parameter_pattern(name, rest, defaults)
        if optional:
            return f"(?:/(?P<{name}>{value}))?", _OPTIONAL
        return f"/(?P<{name}>{value})", _CONSTRAINED if constrained else _PARAMETER
    # Parameters mixed with literals inside one segment, e.g. "{name}.{ext}".
    pattern, position = "/", 0
    for token in tokens:
        pattern += re.escape(segment[position : token.start()])
        value, _, _ = _parameter_pattern(token["name"], token["rest"], defaults)
        pattern += f"(?P<{token['name']}>{value})"
        position = token.end()
    return pattern + re.escape(segment[position:]), _CONSTRAINED


def _parameter_pattern(name: str, rest: str, defaults: dict[str, str]) -> tuple[str, bool, bool]:
    """(regex for the value, optional?, constrained?) of one ``{name...}`` token's tail."""
    optional = rest.endswith("?")
    rest = rest.removesuffix("?")
    if "=" in rest:
        rest, default = rest.split("=", 1)
        defaults[name] = default
        optional = True
    value = r"[^/]+"
    constrained = False
    for constraint in filter(None, rest.split(":")):
        constraint_name = constraint.split("(", 1)[0].lower()
        if constraint_name in _CONSTRAINT_PATTERNS:
            value = _CONSTRAINT_PATTERNS[constraint_name]
            constrained = True
    return value, optional, constrained
