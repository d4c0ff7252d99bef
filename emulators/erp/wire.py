"""What the reference ERP checks on a body's raw JSON before the models parse it.

The models would accept more spellings of a time than the contract's (an offset, a fraction of a second,
no seconds), so times and dates are checked as strings first: top-level ``start``/``end``, each exception's
``originalStart``/``start``/``end`` and the recurrence range's ``startDate``/``endDate`` (R28).
"""

from __future__ import annotations

import re
from typing import Any

from emulators.erp.problems import Problem

LOCAL_DATE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
LOCAL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_WALL_CLOCK = "a wall-clock time YYYY-MM-DDThh:mm:ss without offset"


def _check(value: Any, pattern: re.Pattern[str], pointer: str, what: str) -> None:
    if not (isinstance(value, str) and pattern.match(value)):
        errors = [{"pointer": pointer, "detail": what}]
        raise Problem(422, "invalid-request", f"{pointer.lstrip('/')} is {what}", errors=errors)


def check_wire(data: dict[str, Any]) -> None:
    """422 for a time or date spelled other than the contract's ``LocalDateTime`` / ``LocalDate``."""
    for name in ("start", "end"):
        if name in data:
            _check(data[name], LOCAL_DATE_TIME, f"/{name}", _WALL_CLOCK)
    exceptions = data.get("exceptions")
    if isinstance(exceptions, list):
        for index, item in enumerate(exceptions):
            if not isinstance(item, dict):
                continue
            for name in ("originalStart", "start", "end"):
                if item.get(name) is not None or (name == "originalStart" and name in item):
                    _check(item[name], LOCAL_DATE_TIME, f"/exceptions/{index}/{name}", _WALL_CLOCK)
    recurrence = data.get("recurrence")
    span = recurrence.get("range") if isinstance(recurrence, dict) else None
    if isinstance(span, dict):
        for name in ("startDate", "endDate"):
            if span.get(name) is not None or (name == "startDate" and name in span):
                _check(span[name], LOCAL_DATE, f"/recurrence/range/{name}", "a date YYYY-MM-DD")
