"""``.funcignore``: a deploy ships the app and nothing else (issue 13).

Azure Functions Core Tools and azd read ``.funcignore`` with gitignore syntax; pathspec's gitignore matcher
reads it the same way here. The app needs function_app.py, host.json, requirements.txt and shared/
(https://learn.microsoft.com/azure/azure-functions/functions-reference-python#folder-structure).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pathspec
import pytest

from tests.infra.bicep import REPO_ROOT

FUNCIGNORE = REPO_ROOT / ".funcignore"
NEEDED = ("function_app.py", "host.json", "requirements.txt", "shared/composition.py", "shared/functions/timers.py")
NEVER = (
    ".venv/bin/python",
    "node_modules/azurite/package.json",
    "tests/conftest.py",
    "emulators/stack.py",
    "bench/run.py",
    "docs/deploy.md",
    "infra/main.bicep",
    ".hypothesis/examples/x",
    "shared/__pycache__/settings.cpython-311.pyc",
    ".mypy_cache/3.11/x.json",
    "local.settings.json",
    "local.settings.example.json",
    ".git/HEAD",
    ".gitignore",
    "requirements-dev.txt",
)


@pytest.fixture(scope="module")
def ignored() -> pathspec.PathSpec:
    return pathspec.PathSpec.from_lines("gitignore", FUNCIGNORE.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("path", NEEDED)
def test_what_the_function_app_needs_is_deployed(ignored: pathspec.PathSpec, path: str) -> None:
    assert not ignored.match_file(path)


@pytest.mark.parametrize("path", NEVER)
def test_development_files_and_secrets_are_not_deployed(ignored: pathspec.PathSpec, path: str) -> None:
    assert ignored.match_file(path)


def test_every_tracked_file_outside_the_app_is_left_out(ignored: pathspec.PathSpec) -> None:
    """Of the files in the repository, exactly the app's own are deployed: a new top-level file must be sorted."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git from PATH, fixed args
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    shipped = {path for path in listed if not ignored.match_file(path) and (REPO_ROOT / path).exists()}
    outside = sorted(path for path in shipped if Path(path).parts[0] not in {"shared", *NEEDED})
    assert outside == []
    assert set(NEEDED) <= shipped
