"""What the worker records after each run (the status page's read model), the run's one log record with its
attributes and correlation id, and a released mass deletion (R11) going through on the next run
(issue 13, items 1 and 2)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from emulators.stack import start_stack
from shared import admin, handlers
from shared.handlers.runs import next_safety_net
from shared.queueing import SyncRequest
from shared.telemetry import correlated
from tests.sync.conftest import Stack
from tests.sync.status_helpers import RecordingQueue

MAILBOX, USER = "ann@contoso.example", "U-ANN"
RUN_LOGGER = "shared.handlers.runs"


@pytest.fixture
async def stack(azurite_connection_string: str) -> AsyncIterator[Stack]:
    """The in-process stack with a status page key (the release goes through the page)."""
    started = await start_stack(azurite_connection_string, STATUS_PAGE_KEY="status-page-key-0123456789")
    try:
        yield started
    finally:
        await started.aclose()


@pytest.fixture
def exported() -> Iterator[InMemoryLogRecordExporter]:
    """An OpenTelemetry log pipeline on the run logger, exporting in memory: what Azure Monitor would get."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(logger_provider=provider)
    logger = logging.getLogger(RUN_LOGGER)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield exporter
    logger.removeHandler(handler)
    logger.setLevel(previous)


async def _outlook_event(stack: Stack, subject: str, day: int) -> str:
    start = (datetime.now(UTC) + timedelta(days=day)).replace(hour=9, minute=0, second=0, microsecond=0)
    body = {
        "subject": subject,
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }
    return str((await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)).json()["id"])


async def test_a_run_caused_by_a_notification_logs_one_record_with_its_correlation_id_and_counts(
    stack: Stack, exported: InMemoryLogRecordExporter
) -> None:
    """The id given to a notification travels in the queue message to the run's log record, which carries the
    user, outcome, duration and counts as attributes; the same run is stored as the user's last run."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    await _outlook_event(stack, "Budget review", 2)
    with correlated("corr-notification-1") as correlation_id:
        message = SyncRequest(user_id=USER, reason="notification", correlation_id=correlation_id).to_json()
    await handlers.sync_message(stack.services, message)
    [record] = [r for r in exported.get_finished_logs() if r.log_record.attributes]
    attributes = dict(record.log_record.attributes or {})
    assert attributes["correlation_id"] == "corr-notification-1"
    assert (attributes["sync.user_id"], attributes["sync.outcome"]) == (USER, "ok")
    assert attributes["sync.count.erp_created"] == 1
    assert isinstance(attributes["sync.duration_s"], float)
    [last] = await stack.services.state.last_runs()
    assert (last.user_id, last.outcome, last.counts) == (USER, "ok", {"erp created": 1})
    assert last.correlation_id == "corr-notification-1"
    assert last.next_due == next_safety_net(last.finished_at)


async def test_a_failed_run_is_stored_as_failed_with_the_safe_reason_and_no_secret(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A run that raises is the user's last run too, outcome failed, with the reason the admin sees (secrets
    masked), in the store and in the log."""
    secret = stack.services.settings.erp_api_key.get_secret_value()

    async def broken(user_id: str) -> None:
        raise RuntimeError(f"ERP said no to key {secret}")

    monkeypatch.setattr(stack.services.engine, "sync_user", broken)
    with caplog.at_level(logging.INFO), pytest.raises(Exception, match="RuntimeError"):
        await handlers.sync_message(stack.services, SyncRequest(user_id=USER, reason="test").to_json())
    [last] = await stack.services.state.last_runs()
    assert last.outcome == "failed"
    assert "RuntimeError" in last.detail
    assert secret not in last.detail
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_the_next_safety_net_is_the_next_quarter_hour() -> None:
    """The page's "next due" is the safety net's next run (every 15 minutes, on the quarter hour)."""
    at = datetime(2026, 11, 21, 9, 44, 59, tzinfo=UTC)
    assert next_safety_net(at) == datetime(2026, 11, 21, 9, 45, tzinfo=UTC)
    assert next_safety_net(at.replace(minute=45, second=0)) == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


async def test_a_released_mass_deletion_goes_through_on_the_next_run_once(stack: Stack) -> None:
    """R11: five of six synced events deleted in Outlook at once halt the run; after the admin releases it on
    the status page, the next run voids the five activities and resolves the row; nothing is halted again."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    ids = [await _outlook_event(stack, f"Visit {n}", n + 1) for n in range(6)]
    assert (await stack.services.engine.sync_user(USER)).status == "ok"
    for event_id in ids[:5]:
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{event_id}")
    assert (await stack.services.engine.sync_user(USER)).status == "halted"
    stack.services.queue = RecordingQueue()
    key = stack.services.settings.status_page_key
    assert key is not None
    page = await admin.status_page(
        stack.services, method="POST", headers={"X-Status-Key": key.get_secret_value()}, body=b"", platform_auth=False
    )
    token = page.body.split('name="token" value="', 1)[1].split('"', 1)[0]
    fields = {"token": token, "action": "release", "user": USER}
    await admin.status_page(
        stack.services, method="POST", headers={}, body=urlencode(fields).encode(), platform_auth=False
    )
    released = await stack.services.engine.sync_user(USER)
    assert released.status == "ok"
    assert released.done["erp voided"] == 5
    assert [i for i in await stack.services.state.open_issues(USER) if i.key == "mass-delete"] == []
    assert (await stack.services.engine.sync_user(USER)).status == "ok"
