"""What the machine saw, counted for ``--hypothesis-show-statistics``."""

from __future__ import annotations

from hypothesis import event
from hypothesis.control import currently_in_test_context


def statistic(text: str) -> None:
    """Count what the checks saw (``--hypothesis-show-statistics``); replays outside hypothesis skip it."""
    if currently_in_test_context():
        event(text)
