"""Route templates of HTTP functions, as ASP.NET Core routing matches them."""

from __future__ import annotations

import pytest

from emulators.functions_host.routes import RouteTemplate


def test_literal_route_matches_case_insensitively() -> None:
    """Literal segments match regardless of case (ASP.NET Core routing, which the Functions host uses)."""
    route = RouteTemplate.compile("health/ready")
    assert route.match("/Health/READY") == {}
    assert route.match("/health") is None


def test_parameter_captures_one_segment() -> None:
    """``{id}`` captures exactly one path segment (Functions HTTP trigger, customize the HTTP endpoint)."""
    route = RouteTemplate.compile("items/{id}")
    assert route.match("/items/42") == {"id": "42"}
    assert route.match("/items/42/more") is None


def test_int_constraint_rejects_non_numbers() -> None:
    """``{id:int}`` only matches integers (ASP.NET Core route constraints)."""
    route = RouteTemplate.compile("items/{id:int}")
    assert route.match("/items/7") == {"id": "7"}
    assert route.match("/items/seven") is None


def test_optional_parameter_may_be_absent() -> None:
    """``{category?}`` matches with or without the segment (Functions HTTP trigger docs, optional parameter)."""
    route = RouteTemplate.compile("products/{category:alpha}/{id:int?}")
    assert route.match("/products/books") == {"category": "books"}
    assert route.match("/products/books/3") == {"category": "books", "id": "3"}


def test_default_value_fills_a_missing_parameter() -> None:
    """``{page=1}`` yields the default when the segment is absent (ASP.NET Core route templates)."""
    assert RouteTemplate.compile("list/{page=1}").match("/list") == {"page": "1"}


def test_catch_all_takes_the_rest_of_the_path() -> None:
    """``{*rest}`` captures every remaining segment (ASP.NET Core catch-all parameters)."""
    assert RouteTemplate.compile("files/{*path}").match("/files/a/b/c.txt") == {"path": "a/b/c.txt"}


def test_parameters_inside_one_segment() -> None:
    """``{name}.{ext}`` splits one segment into two values (ASP.NET Core complex segments)."""
    assert RouteTemplate.compile("docs/{name}.{ext}").match("/docs/report.pdf") == {"name": "report", "ext": "pdf"}


@pytest.mark.parametrize(
    ("specific", "general"),
    [("items/special", "items/{id}"), ("items/{id:int}", "items/{id}"), ("items/{id}", "items/{*rest}")],
)
def test_more_specific_template_sorts_first(specific: str, general: str) -> None:
    """Literals beat parameters, constrained beat free ones, catch-alls come last (ASP.NET Core route precedence)."""
    ordered = sorted([RouteTemplate.compile(general), RouteTemplate.compile(specific)], key=RouteTemplate.sort_key)
    assert [route.template for route in ordered] == [specific, general]
