"""Telemetry: Azure Monitor through OpenTelemetry when configured, quiet SDK loggers, and one correlation id
per cause (a notification, a hook call, a timer run, an admin's click) from the webhook to the run it caused.

- ``configure_telemetry()`` runs once when the app is indexed (``function_app.py``). It always turns the Azure
  SDK's per-request loggers (and httpx's) down to WARNING: at INFO they log every storage request, tens of
  thousands of lines an hour that would flood Application Insights. With ``APPLICATIONINSIGHTS_CONNECTION_STRING``
  set it calls ``configure_azure_monitor`` (unless the Python worker configured OpenTelemetry already), so log
  records, with their ``extra`` attributes, reach Application Insights as traces with custom dimensions.
- ``correlated(cid)`` puts a correlation id in context for a block; every log record made inside carries it
  as the attribute ``correlation_id`` (a log record factory adds it), and ``SyncRequest.correlation_id``
  carries it across the queue to the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
# Loggers that log every HTTP request at INFO (the storage SDK's request and response lines, httpx's one line
# per call to Graph and the ERP). Failures still show: the SDKs log them at WARNING or raise.
QUIET_LOGGERS = (
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.storage",
    "azure.data.tables",
    "azure.identity",
    "httpx",
)

_correlation: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_installed = False


def current_correlation_id() -> str | None:
    return _correlation.get()


def new_correlation_id() -> str:
    """The current OpenTelemetry trace id when a trace is active (so App Insights joins them), else a new id."""
    try:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return format(context.trace_id, "032x")
    except ImportError:  # pragma: no cover - opentelemetry-api comes with the Graph SDK
        pass
    return uuid.uuid4().hex


@contextlib.contextmanager
def correlated(correlation_id: str | None = None) -> Iterator[str]:
    """Within the block, log records carry ``correlation_id`` (a new one when None or empty)."""
    _install_record_factory()
    value = correlation_id or new_correlation_id()
    token = _correlation.set(value)
    try:
        yield value
    finally:
        _correlation.reset(token)


def _install_record_factory() -> None:
    """Every log record made while a correlation id is in context carries it (any logger, any handler)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        value = _correlation.get()
        if value is not None and not hasattr(record, "correlation_id"):
            record.correlation_id = value
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _otel_sdk_configured() -> bool:
    """True when an OpenTelemetry SDK tracer provider is installed already (by the Python worker, when
    ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY`` is set): configuring again would export everything twice."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def configure_telemetry(environ: Mapping[str, str] | None = None) -> bool:
    """Quiet the per-request loggers, correlate log records, and export to Azure Monitor when its connection
    string is set; True when this call configured the export."""
    env = os.environ if environ is None else environ
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _install_record_factory()
    if not env.get(CONNECTION_SETTING, "").strip() or _otel_sdk_configured():
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    # The connection string (and APPLICATIONINSIGHTS_AUTHENTICATION_STRING for Entra ID ingestion) are read
    # from the environment by the distro itself; nothing secret passes through here.
    configure_azure_monitor(enable_live_metrics=False)
    for name in QUIET_LOGGERS:  # the distro's own instrumentations must not bring them back
        logging.getLogger(name).setLevel(logging.WARNING)
    log.info("telemetry: exporting to Azure Monitor")
    return True
