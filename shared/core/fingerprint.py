"""Content hashes per field group, so a real change is told apart from an echo or a no-op (R5, R6)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC

from shared.core.items import CalendarItem, Field

_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Whitespace-insensitive form: Graph and ERPs reflow line endings and trailing spaces."""
    return _SPACE.sub(" ", text).strip()


def _when(item: CalendarItem) -> object:
    if item.all_day or item.no_specified_time:
        return ["day", item.start.date().isoformat(), item.end.date().isoformat(), item.no_specified_time]
    return [item.start.astimezone(UTC).isoformat(), item.end.astimezone(UTC).isoformat()]


def _answer(response: str) -> str:
    """Graph says "notResponded" where the ERP says "none": the same answer (R27)."""
    return "none" if response in ("none", "notResponded") else response


def field_values(item: CalendarItem) -> dict[Field, object]:
    """The comparable value of each field group."""
    return {
        Field.SUBJECT: item.subject.strip(),
        Field.BODY: normalise_text(item.body),
        Field.WHEN: _when(item),
        Field.LOCATION: item.location.strip(),
        Field.ATTENDEES: sorted([a.email.lower(), a.role.value] for a in item.attendees),
        Field.RESPONSES: sorted([a.email.lower(), _answer(a.response)] for a in item.attendees),
        Field.CATEGORIES: sorted({c.strip().lower() for c in item.categories}),
        Field.SHOW_AS: item.show_as,
        Field.SENSITIVITY: item.sensitivity.value,
    }


def fingerprint(item: CalendarItem) -> dict[Field, str]:
    """A short hash per field group."""
    return {
        field: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
        for field, value in field_values(item).items()
    }


def changed_fields(current: dict[Field, str], synced: dict[Field, str]) -> frozenset[Field]:
    """Fields whose hash differs from what was last synced (a missing old hash counts as changed)."""
    return frozenset(field for field, digest in current.items() if synced.get(field) != digest)
