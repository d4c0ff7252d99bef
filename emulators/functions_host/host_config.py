"""The parts of ``host.json`` (schema version 2.0) that the local host honours, with the real host's defaults.

Defaults follow https://learn.microsoft.com/azure/azure-functions/functions-host-json and
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<hours>\d+):(?P<minutes>\d+):(?P<seconds>\d+(?:\.\d+)?)$")


def parse_timespan(text: str) -> timedelta:
    """A .NET TimeSpan as host.json writes it: ``[d.]hh:mm:ss[.fff]``."""
    match = _TIMESPAN.match(text.strip())
    if match is None:
        raise ValueError(f"not a TimeSpan (expected [d.]hh:mm:ss): {text!r}")
    return timedelta(
        days=int(match["days"] or 0),
        hours=int(match["hours"]),
        minutes=int(match["minutes"]),
        seconds=float(match["seconds"]),
    )


@dataclass(frozen=True, kw_only=True)
class QueueOptions:
    """``extensions.queues`` of host.json."""

    max_polling_interval: timedelta = timedelta(minutes=1)
    visibility_timeout: timedelta = timedelta(0)
    batch_size: int = 16
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    def __post_init__(self) -> None:
        if self.message_encoding not in ("base64", "none"):
            raise ValueError(f"extensions.queues.messageEncoding must be 'base64' or 'none': {self.message_encoding!r}")
        if not 1 <= self.batch_size <= 32:
            raise ValueError(f"extensions.queues.batchSize must be 1..32: {self.batch_size}")
        if self.max_dequeue_count < 1:
            raise ValueError(f"extensions.queues.maxDequeueCount must be at least 1: {self.max_dequeue_count}")


@dataclass(frozen=True, kw_only=True)
class HostConfig:
    """What the local host reads from host.json."""

    route_prefix: str = "api"
    queues: QueueOptions = QueueOptions()

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> HostConfig:
        extensions = document.get("extensions") or {}
        http = extensions.get("http") or {}
        queues = extensions.get("queues") or {}
        defaults = QueueOptions()
        return cls(
            route_prefix=str(http.get("routePrefix", "api")).strip("/"),
            queues=QueueOptions(
                max_polling_interval=_timespan_or(queues.get("maxPollingInterval"), defaults.max_polling_interval),
                visibility_timeout=_timespan_or(queues.get("visibilityTimeout"), defaults.visibility_timeout),
                batch_size=int(queues.get("batchSize", defaults.batch_size)),
                max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
                message_encoding=str(queues.get("messageEncoding", defaults.message_encoding)).lower(),
            ),
        )

    @classmethod
    def load(cls, source: Path | Mapping[str, Any] | HostConfig | None) -> HostConfig:
        """From a host.json path, its parsed content, a ready config, or None for the defaults."""
        if source is None:
            return cls()
        if isinstance(source, HostConfig):
            return source
        if isinstance(source, Path):
            return cls.from_json(json.loads(source.read_text(encoding="utf-8")))
        return cls.from_json(source)


def _timespan_or(value: Any, default: timedelta) -> timedelta:
    if value is None:
        return default
    # maxPollingInterval may also be given in milliseconds (a number), as the docs allow.
    if isinstance(value, int | float):
        return timedelta(milliseconds=value)
    return parse_timespan(str(value))
