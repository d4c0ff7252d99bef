"""Telemetry set-up (issue 13, item 2): Azure Monitor only when its connection string is set, the storage SDK's
per-request loggers at WARNING, and a correlation id on every log record made in its context."""

from __future__ import annotations

import logging

import pytest

from shared import telemetry


@pytest.fixture
def distro_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """``configure_azure_monitor`` replaced by a recorder (the real one would start exporters)."""
    import azure.monitor.opentelemetry

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(azure.monitor.opentelemetry, "configure_azure_monitor", lambda **kw: calls.append(kw))
    monkeypatch.setattr(telemetry, "_otel_sdk_configured", lambda: False)
    return calls


def test_without_a_connection_string_nothing_is_exported_but_sdk_loggers_are_quiet(
    distro_calls: list[dict[str, object]],
) -> None:
    """Locally and in tests: no exporter; the storage SDK's request lines (65,000 in 4 minutes) are gone."""
    for name in telemetry.QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    assert telemetry.configure_telemetry({}) is False
    assert distro_calls == []
    for name in (
        "azure.core.pipeline.policies.http_logging_policy",
        "azure.storage",
        "azure.data.tables",
        "httpx",
    ):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert not logging.getLogger("azure.storage.queue").isEnabledFor(logging.INFO)


def test_with_a_connection_string_azure_monitor_is_configured_once(distro_calls: list[dict[str, object]]) -> None:
    """In Azure the distro reads the connection string (and the Entra ID authentication string) itself."""
    conn = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"
    assert telemetry.configure_telemetry({telemetry.CONNECTION_SETTING: conn}) is True
    assert len(distro_calls) == 1
    assert conn not in repr(distro_calls)  # the secret-ish string is not passed around, the distro reads it


def test_when_the_python_worker_configured_opentelemetry_already_it_is_not_configured_twice(
    distro_calls: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY the worker sets OpenTelemetry up; a second set-up would
    export every record twice."""
    monkeypatch.setattr(telemetry, "_otel_sdk_configured", lambda: True)
    assert telemetry.configure_telemetry({telemetry.CONNECTION_SETTING: "InstrumentationKey=x"}) is False
    assert distro_calls == []


def test_log_records_made_in_a_correlated_block_carry_its_id(caplog: pytest.LogCaptureFixture) -> None:
    """Any logger, any handler: a record made inside ``correlated`` has ``correlation_id``; outside, none."""
    with caplog.at_level(logging.INFO):
        with telemetry.correlated("abc123") as given:
            logging.getLogger("shared.anything").info("inside")
            assert telemetry.current_correlation_id() == "abc123"
        logging.getLogger("shared.anything").info("outside")
    inside, outside = caplog.records
    assert (given, getattr(inside, "correlation_id", None)) == ("abc123", "abc123")
    assert not hasattr(outside, "correlation_id")
    assert telemetry.current_correlation_id() is None


def test_a_block_without_an_id_gets_a_fresh_one() -> None:
    """A notification, a hook call or a timer run starts a new id, carried by every sync it queues."""
    with telemetry.correlated() as first, telemetry.correlated(None) as second:
        assert len(first) == 32
        assert first != second
