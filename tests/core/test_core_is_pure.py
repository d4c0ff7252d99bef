"""The sync core stays pure: no I/O, no clock, no Azure or HTTP import (developers' guide, "How we want the code").

shared/core may import only shared.core itself, pydantic and the pure parts of the standard library; it
never reaches the adapters, the engine, the functions or the composition root, and it reads no clock.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "shared" / "core"
MIN_CORE_MODULES = 8  # items, activities, m365, links, mapping, fingerprint, policy, planner, ...

# Named outright, so a change to ALLOWED below cannot quietly let one of them in.
FORBIDDEN = (
    "shared.erp",
    "shared.graph",
    "shared.state",
    "shared.sync",
    "shared.functions",
    "shared.handlers",
    "shared.composition",
    "shared.queueing",
    "shared.settings",
    "azure",
    "msgraph",
    "kiota",
    "httpx",
    "aiohttp",
    "requests",
    "socket",
    "asyncio",
    "os",
    "sys",
    "time",
    "random",
    "secrets",
    "pathlib",
    "io",
    "subprocess",
    "threading",
    "logging",
    "importlib",
)
# Everything else a core module imports must be one of these (or inside one of them).
ALLOWED = (
    "__future__",
    "shared.core",
    "pydantic",
    "tzlocal.windows_tz",  # the Windows <-> IANA time zone name tables, plain data
    "abc",
    "bisect",
    "collections",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "hashlib",
    "heapq",
    "itertools",
    "json",
    "math",
    "operator",
    "re",
    "string",
    "types",
    "typing",
    "unicodedata",
    "zoneinfo",
)
UUID_ALLOWED = {"uuid", "uuid.UUID", "uuid.uuid5"}  # name-based ids only: uuid1/uuid4 read the clock or randomness
UUID_IMPURE_CALLS = {"uuid1", "uuid4"}
CLOCK_CALLS = {"now", "utcnow", "today"}  # datetime.now(), date.today(), ...
IO_CALLS = {"open", "input", "print", "breakpoint", "exec", "eval", "__import__"}


def _within(name: str, modules: tuple[str, ...] | set[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import brings in: ``from shared import erp`` brings in ``shared.erp``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    module = "shared.core" if node.level else (node.module or "")  # relative imports stay in the core
    if node.level and node.module:
        module += "." + node.module
    return [module] + [f"{module}.{alias.name}" for alias in node.names]


def _import_faults(node: ast.Import | ast.ImportFrom, name: str) -> list[str]:
    found = []
    for imported in _imported(node):
        if _within(imported, FORBIDDEN):
            found.append(f"{name}:{node.lineno} imports {imported}")
        elif _within(imported, ("uuid",)):
            if imported not in UUID_ALLOWED and not imported.startswith("uuid.NAMESPACE_"):
                found.append(f"{name}:{node.lineno} imports {imported} (only uuid5 is pure)")
        elif not _within(imported, ALLOWED):
            found.append(f"{name}:{node.lineno} imports {imported}, which is not on the core's list")
    return found


def _call_faults(node: ast.Call, name: str) -> list[str]:
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS | UUID_IMPURE_CALLS:
        return [f"{name}:{node.lineno} calls .{func.attr}()"]
    if isinstance(func, ast.Name) and func.id in IO_CALLS | UUID_IMPURE_CALLS:
        return [f"{name}:{node.lineno} calls {func.id}()"]
    return []


def violations(source: str, name: str) -> list[str]:
    """What in one core module breaks purity: each bad import and each clock, I/O or random call."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += _import_faults(node, name)
        elif isinstance(node, ast.Call):
            found += _call_faults(node, name)
    return sorted(set(found))


def _core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_check_sees_the_whole_core() -> None:
    """The checks below would pass on an empty or moved folder; they must have the core's modules to read."""
    names = {path.stem for path in _core_modules()}
    assert len(names - {"__init__"}) >= MIN_CORE_MODULES
    assert {"planner", "mapping", "items", "fingerprint"} <= names


def test_no_core_module_imports_io_adapters_or_the_app_or_reads_a_clock() -> None:
    """Every module of shared/core imports only the core, pydantic and pure stdlib, and calls no clock or I/O."""
    offenders = [v for path in _core_modules() for v in violations(path.read_text(), path.relative_to(CORE).as_posix())]
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "reported"),
    [
        ("from shared.erp.port import ErpPort\n", "imports shared.erp.port"),
        ("from shared import erp\n", "imports shared.erp"),
        ("import shared.graph.client\n", "imports shared.graph.client"),
        ("from shared.state.model import Issue\n", "imports shared.state.model"),
        ("from shared.sync.engine import SyncEngine\n", "imports shared.sync.engine"),
        ("from shared.functions import timers\n", "imports shared.functions"),
        ("from shared.composition import Services\n", "imports shared.composition"),
        ("import azure.functions as func\n", "imports azure.functions"),
        ("from msgraph import GraphServiceClient\n", "imports msgraph"),
        ("from kiota_abstractions.api_error import APIError\n", "imports kiota_abstractions"),
        ("import httpx\n", "imports httpx"),
        ("import socket\n", "imports socket"),
        ("import asyncio\n", "imports asyncio"),
        ("from os import environ\n", "imports os"),
        ("import time\n", "imports time"),
        ("from uuid import uuid4\n", "imports uuid.uuid4"),
        ("import uuid\nKEY = uuid.uuid4()\n", "calls .uuid4()"),
        ("from datetime import datetime\nSTART = datetime.now()\n", "calls .now()"),
        ("from datetime import date\nDAY = date.today()\n", "calls .today()"),
        ("TEXT = open('x').read()\n", "calls open()"),
        ("if True:\n    import subprocess\n", "imports subprocess"),
        ("import yaml\n", "imports yaml, which is not on the core's list"),
    ],
)
def test_the_check_reports_a_module_that_breaks_purity(tmp_path: Path, source: str, reported: str) -> None:
    """A core module written today with any of these lines would be reported, naming the line's fault."""
    bad = tmp_path / "bad.py"
    bad.write_text("from __future__ import annotations\n\n" + source)
    found = violations(bad.read_text(), bad.name)
    assert any(reported in v for v in found), found


def test_the_check_accepts_what_the_core_may_use() -> None:
    """The core's own imports, pydantic, pure stdlib, uuid5 and an aware datetime passed in are all fine."""
    source = (
        "from __future__ import annotations\n"
        "import hashlib, json, re\n"
        "import uuid\n"
        "from uuid import NAMESPACE_URL, UUID, uuid5\n"
        "from collections.abc import Iterable\n"
        "from dataclasses import dataclass\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from enum import StrEnum\n"
        "from typing import Literal\n"
        "from zoneinfo import ZoneInfo\n"
        "from pydantic import BaseModel\n"
        "from shared.core.items import CalendarItem\n"
        "from .links import Link\n"
        "KEY = uuid.uuid5(uuid.NAMESPACE_URL, 'x')\n"
        "def later(now: datetime) -> datetime:\n"
        "    return now.astimezone(UTC) + timedelta(days=1)\n"
    )
    assert violations(source, "good.py") == []
