"""People edit both sides of three synced mailboxes while runs interleave and fail: once every sync has caught
up, each meeting is one activity with its copies linked and its answers equal (R5, R6, R8, R10, R21, R27), the
last of two quick edits wins (issue 9), a closed meeting's activity stays as closed (R7, R29) and each approved
leave request is one out-of-office event (R23, R30).

The machine (``machine.py``) runs on two backends: the in-process fakes, with many examples (part of every
``make test``), and the real adapters over HTTP with Table Storage in Azurite, with a few.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import stamina
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import engine
from hypothesis.stateful import run_state_machine_as_test
from kiota_http.middleware.retry_handler import RetryHandler

from tests.convergence.machine import SyncConvergence
from tests.convergence.world import SEEDED_IDS, FakeWorld
from tests.convergence.world_http import HttpWorld

# Fixed examples (derandomize): the same 1,000 every run, so CI is stable; a failure replays as is. Every example
# runs all its steps; at 20 a fakes example takes ~65 ms (1,000 in about 70 s on one core), and 20 steps catch an
# owner's decline that no longer voids (a planted bug) where 15 did not.
FAKE_EXAMPLES = 1000
HTTP_EXAMPLES = 15
STEPS = 20


class OnFakes(SyncConvergence):
    world_factory = FakeWorld


class OnHttp(SyncConvergence):
    world_factory = HttpWorld


@pytest.fixture
def seeded_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids from a seeded generator, so an example replays exactly (``world.SeededIds``)."""
    SEEDED_IDS.install(monkeypatch)


@pytest.fixture
def quiet_machine(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, seeded_ids: None) -> None:
    """Thousands of runs: the service's issue warnings are not kept (they would hold a gigabyte of log records),
    a failure is shrunk for at most a minute (hypothesis' own limit is five), so ``make test`` stays short when
    the machine finds something (the replays in ``test_found_by_the_machine`` are minimal anyway)."""
    caplog.set_level(logging.ERROR, logger="shared")
    monkeypatch.setattr(engine, "MAX_SHRINKING_SECONDS", 60)


@pytest.fixture
def immediate_retries() -> Iterator[None]:
    """Retries happen (so small faults are absorbed) but without backoff sleeps: the test is about outcomes."""
    original = RetryHandler.get_delay_time
    RetryHandler.get_delay_time = lambda self, retry_count, response=None, delay=0.0: 0.0  # type: ignore[method-assign]
    try:
        with stamina.set_testing(True, attempts=3):
            yield
    finally:
        RetryHandler.get_delay_time = original  # type: ignore[method-assign]


def test_meetings_converge_on_the_fakes(quiet_machine: None) -> None:
    """R5/R6/R8/R10/R21/R27: whatever people did and however runs interleaved or failed, caught-up syncs leave
    one activity per meeting, every invited synced copy linked to it, answers equal on both sides."""
    run_state_machine_as_test(
        OnFakes,
        settings=settings(
            max_examples=FAKE_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.integration
def test_meetings_converge_on_the_real_adapters(
    azurite_connection_string: str, immediate_retries: None, quiet_machine: None
) -> None:
    """The same machine on msgraph-sdk, HttpErp and Table Storage (Azurite), with fewer examples."""
    HttpWorld.azurite = azurite_connection_string
    run_state_machine_as_test(
        OnHttp,
        settings=settings(
            max_examples=HTTP_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
