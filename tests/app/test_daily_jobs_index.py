"""The daily jobs as the host indexes them (issue 11): two nightly timers whose schedules are app settings."""

from __future__ import annotations

import pytest

from shared.errors import SettingsError
from shared.functions import timers
from shared.settings import (
    DEFAULT_CLEANUP_SCHEDULE,
    DEFAULT_CLOSE_SCHEDULE,
    check_schedule,
    load_settings,
    schedule_setting,
)
from tests.app.test_function_app_index import _functions
from tests.app.test_settings import VALID


def test_R29_the_close_and_clean_up_jobs_are_nightly_timers_that_never_run_on_startup() -> None:
    """Both run once a night by default (01:00 and 01:30 UTC); not on startup, where every instance that
    starts would run them at once."""
    functions = _functions()
    for name, schedule in (("daily_close", DEFAULT_CLOSE_SCHEDULE), ("daily_cleanup", DEFAULT_CLEANUP_SCHEDULE)):
        assert functions[name]["type"] == "timerTrigger"
        assert functions[name]["schedule"] == schedule
        assert functions[name]["runOnStartup"] is False


def test_a_schedule_setting_names_another_time_and_an_empty_one_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SYNC_CLOSE_SCHEDULE`` is read when the host indexes the functions; unset or empty means the default."""
    monkeypatch.setenv("SYNC_CLOSE_SCHEDULE", "0 0 23 * * *")
    assert schedule_setting("SYNC_CLOSE_SCHEDULE", DEFAULT_CLOSE_SCHEDULE) == "0 0 23 * * *"
    monkeypatch.setenv("SYNC_CLOSE_SCHEDULE", " ")
    assert schedule_setting("SYNC_CLOSE_SCHEDULE", DEFAULT_CLOSE_SCHEDULE) == DEFAULT_CLOSE_SCHEDULE
    assert timers.CLOSE_SCHEDULE == DEFAULT_CLOSE_SCHEDULE


@pytest.mark.parametrize("bad", ["0 0 1 * *", "every night", "0 0 1 * * * *", "0 0 1 * * ;"])
def test_a_schedule_that_is_not_six_ncrontab_fields_is_refused_at_start(bad: str) -> None:
    """The host reads six fields (seconds first); five-field cron or prose would fail on the host instead."""
    with pytest.raises(ValueError, match="six-field NCRONTAB"):
        check_schedule(bad)
    with pytest.raises(SettingsError, match=r"sync_close_schedule|SYNC_CLOSE_SCHEDULE"):
        load_settings({**VALID, "SYNC_CLOSE_SCHEDULE": bad})
