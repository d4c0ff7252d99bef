"""App settings for the local host: ``local.settings.json`` and their application to ``os.environ``.

Function code reads app settings from environment variables, as in Azure
(https://learn.microsoft.com/azure/azure-functions/functions-how-to-use-azure-function-app-settings).
Because ``os.environ`` is process-wide, the host sets the given settings there while it runs and restores
the previous values afterwards.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def load_local_settings(path: Path) -> dict[str, str]:
    """The ``Values`` of a ``local.settings.json`` (``{"IsEncrypted": false, "Values": {...}}``) as strings."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("IsEncrypted"):
        raise ValueError(f"{path}: encrypted local settings are not supported (run `func settings decrypt`)")
    values = document.get("Values") or {}
    return {str(name): _as_text(value) for name, value in values.items()}


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class EnvironmentOverlay:
    """Puts settings into ``os.environ`` while at least one holder is inside ``applied()`` (re-entrant)."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        self.settings = dict(settings)
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[str, str | None] = {}

    @contextmanager
    def applied(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._saved = {name: os.environ.get(name) for name in self.settings}
                os.environ.update(self.settings)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for name, previous in self._saved.items():
                        if previous is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = previous

    def lookup(self, name: str) -> str | None:
        """A setting's value: the given settings first, then the process environment."""
        return self.settings.get(name, os.environ.get(name))
