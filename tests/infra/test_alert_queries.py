"""The alert rules' log queries count what the code really emits (infra/core/monitor/alerts.bicep, issue 13).

A query quotes a function name or a warning's wording; if the code renamed the one or reworded the other, the
alert would never fire again without anyone noticing. These tests tie each quoted text to the source.
"""

from __future__ import annotations

import re

import pytest

from tests.infra.bicep import REPO_ROOT, Template
from tests.infra.rules import REQUIRED_ALERTS, alert_queries

SOURCES = "\n".join(path.read_text(encoding="utf-8") for path in sorted((REPO_ROOT / "shared").rglob("*.py")))
FUNCTION_NAMES = set(re.findall(r'function_name\("(\w+)"\)', SOURCES))


@pytest.fixture(scope="module")
def queries() -> list[str]:
    return [query for _, query in alert_queries(Template.load())]


def test_there_is_one_alert_per_signal_the_runbook_names(queries: list[str]) -> None:
    """Failed runs, the poison queue, subscription failures and halted mass deletions each have their own query."""
    assert len(queries) == len(REQUIRED_ALERTS)


def test_quoted_warnings_are_logged_by_the_code(queries: list[str]) -> None:
    """Every ``contains "…"`` phrase of a traces query is text of a warning the code logs."""
    phrases = [phrase for query in queries for phrase in re.findall(r'contains "([^"]+)"', query)]
    assert phrases
    assert [phrase for phrase in phrases if _normalized(phrase) not in SOURCES] == []


def test_quoted_function_names_are_functions_of_the_app(queries: list[str]) -> None:
    """Every ``name == "…"`` of a requests query is a function the app registers."""
    names = [name for query in queries for name in re.findall(r'name == "(\w+)"', query)]
    assert names
    assert set(names) <= FUNCTION_NAMES


def _normalized(phrase: str) -> str:
    """``": mass_delete: "`` is a log format's separators around an issue kind: the kind is what the code holds."""
    return phrase.strip(": ")


def test_a_reworded_warning_is_caught() -> None:
    """The check fails when a phrase is not in the code (so it cannot pass vacuously)."""
    assert "had failed on every try" in SOURCES
    assert "had failed on all tries" not in SOURCES
