"""The sync core stays pure: no I/O, no clock, no Azure or HTTP import (developers' guide, "How we want the code")."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "shared" / "core"
FORBIDDEN_MODULES = (
    "azure",
    "httpx",
    "msgraph",
    "kiota",
    "aiohttp",
    "requests",
    "socket",
    "asyncio",
    "os",
    "time",
    "uuid",
    "random",
    "secrets",
    "pathlib",
    "subprocess",
    "shared.state",
    "shared.graph",
    "shared.sync",
    "shared.composition",
    "shared.handlers",
    "shared.erp.http_client",
    "shared.queueing",
)
CLOCK_CALLS = {"now", "utcnow", "today"}  # datetime.now(), date.today(), ...


def _modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def test_core_imports_no_io_library() -> None:
    """No module of shared/core imports an I/O, Azure, HTTP or adapter module."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [
                f"{path.name}: {n}" for n in names if any(n == m or n.startswith(m + ".") for m in FORBIDDEN_MODULES)
            ]
    assert offenders == []


def test_core_reads_no_clock_and_does_no_io() -> None:
    """No call to a clock, a file, the network or randomness: time comes in as an input."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
                offenders.append(f"{path.name}:{node.lineno} .{func.attr}()")
            if isinstance(func, ast.Name) and func.id in {"open", "input", "print"}:
                offenders.append(f"{path.name}:{node.lineno} {func.id}()")
    assert offenders == []
