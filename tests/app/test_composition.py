"""The composition root builds one ``Services`` per event loop, however many functions ask at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import pytest

from shared import composition
from shared.composition import Services
from shared.settings import Settings

BATCH = 8  # host.json queues batchSize: a cold start runs this many sync_user calls at once


class _FakeServices:
    """Stands in for ``Services``: only ``aclose`` is used by the composition root."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class _Builds:
    """A ``build_services`` that takes a while, counts its calls and fails the ones it is told to."""

    def __init__(self, *, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures

    async def __call__(self, settings: Settings) -> Services:
        self.calls += 1
        number = self.calls
        await asyncio.sleep(0.05)  # the adapters connect: every other caller arrives meanwhile
        if number <= self.failures:
            raise ConnectionError(f"build {number} failed")
        return cast(Services, _FakeServices(number))


@pytest.fixture
async def no_cached_services() -> AsyncIterator[None]:
    """Each test starts and ends with nothing cached for its event loop."""
    await composition.close_services()
    yield
    await composition.close_services()


def _use(monkeypatch: pytest.MonkeyPatch, builds: _Builds) -> None:
    monkeypatch.setattr(composition, "load_settings", lambda: cast(Settings, object()))
    monkeypatch.setattr(composition, "build_services", builds)


@pytest.mark.usefixtures("no_cached_services")
async def test_concurrent_first_calls_share_one_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold start with a full queue batch: eight first calls at once get one and the same Services."""
    builds = _Builds()
    _use(monkeypatch, builds)

    got = await asyncio.gather(*(composition.services() for _ in range(BATCH)))

    assert builds.calls == 1
    assert all(s is got[0] for s in got)
    assert await composition.services() is got[0]  # later calls reuse it without building again
    assert builds.calls == 1


@pytest.mark.usefixtures("no_cached_services")
async def test_a_failed_build_is_retried_on_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage unreachable at start: every waiting caller sees the error, and the next call builds again."""
    builds = _Builds(failures=1)
    _use(monkeypatch, builds)

    first = await asyncio.gather(*(composition.services() for _ in range(3)), return_exceptions=True)
    assert builds.calls == 1
    assert [type(r) for r in first] == [ConnectionError] * 3

    retried = await composition.services()
    assert builds.calls == 2
    assert cast(_FakeServices, retried).number == 2


@pytest.mark.usefixtures("no_cached_services")
async def test_a_caller_cancelled_during_the_build_leaves_it_to_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """A function that times out while the services are built does not cancel the build others await."""
    builds = _Builds()
    _use(monkeypatch, builds)

    impatient = asyncio.create_task(composition.services())
    patient = asyncio.create_task(composition.services())
    await asyncio.sleep(0.01)
    impatient.cancel()

    built = await patient
    assert impatient.cancelled()
    assert builds.calls == 1
    assert await composition.services() is built


@pytest.mark.usefixtures("no_cached_services")
async def test_close_services_closes_the_cached_services(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo closes what it built before its event loop ends; the next call builds anew."""
    builds = _Builds()
    _use(monkeypatch, builds)
    built = cast(_FakeServices, await composition.services())

    await composition.close_services()

    assert built.closed
    assert cast(_FakeServices, await composition.services()).number == 2
