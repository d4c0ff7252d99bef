"""Every Bicep file parses cleanly with tree-sitter-bicep (the Bicep CLI is not available offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import INFRA_DIR, REPO_ROOT, BicepFile, Template

BICEP_FILES = sorted(INFRA_DIR.rglob("*.bicep"))


def test_infra_folder_has_templates() -> None:
    """The checks below would pass vacuously on an empty folder, so the templates must exist (issue 5)."""
    assert (INFRA_DIR / "main.bicep") in BICEP_FILES
    assert len(BICEP_FILES) > 1


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_bicep_file_parses_without_error_or_missing_nodes(path: Path) -> None:
    """A template with a syntax error cannot deploy; tree-sitter marks it with ERROR/MISSING nodes (issue 5)."""
    parsed = BicepFile.parse(path.read_text(encoding="utf-8"), path=path)
    assert parsed.syntax_problems() == []


def test_every_bicep_file_is_reached_from_main() -> None:
    """No orphan module: every file under infra/ is deployed through main.bicep, so every file is checked."""
    reached = set(Template.load().files)
    assert {path.resolve() for path in BICEP_FILES} == reached


@pytest.mark.parametrize(
    "broken",
    [
        "resource site 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'x'\n  properties: {\n    httpsOnly: true\n}\n",
        "param location string =\n",
        "output url string = 'https://${host'\n",
        "param prefix string = 'unterminated\n",
        "output hostName = 'x'\n",
        "var settings = union({},\n",
    ],
    ids=[
        "unclosed-object",
        "missing-default",
        "unclosed-interpolation",
        "unclosed-string",
        "output-no-type",
        "open-call",
    ],
)
def test_syntax_check_reports_a_broken_file(broken: str) -> None:
    """The parse check can fail: a malformed template yields at least one ERROR/MISSING node."""
    parsed = BicepFile.parse(broken, path=Path("/snippets/broken.bicep"))
    assert parsed.syntax_problems() != []
