"""The status page's read model, written as work happens: each user's last run (the queue worker) and each
job's last run (the timers), plus the run's one structured log record.

The run's log record carries its attributes as ``extra`` (``sync.user_id``, ``sync.outcome``,
``sync.duration_s``, ``sync.issues``, one ``sync.count.<what>`` per kind of write, e.g.
``sync.count.erp_created``), so Application Insights shows them as custom dimensions; the correlation id
comes from ``shared.telemetry``. Recording never fails the work it records: a store error is logged and the
work's own outcome stands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from shared.composition import Services
from shared.handlers.failures import secrets_of
from shared.safe_log import outside, safe_text
from shared.state.model import JobRecord, RunRecord
from shared.sync.report import RunReport
from shared.telemetry import current_correlation_id

log = logging.getLogger(__name__)

# The safety net queues every enabled user every 15 minutes (shared/functions/timers.py SAFETY_NET_SCHEDULE),
# so a user's next run is due at the next quarter hour at the latest.
SAFETY_NET_EVERY = timedelta(minutes=15)


def next_safety_net(now: datetime) -> datetime:
    """The first quarter hour after ``now`` (the safety net's next run: 0 */15 * * * *)."""
    minutes = SAFETY_NET_EVERY.total_seconds() // 60
    floor = now.replace(minute=int(now.minute // minutes * minutes), second=0, microsecond=0)
    return floor + SAFETY_NET_EVERY


def run_attributes(record: RunRecord) -> dict[str, object]:
    """The run's log attributes: flat names and primitive values, as OpenTelemetry attributes must be."""
    attributes: dict[str, object] = {
        "sync.user_id": record.user_id,
        "sync.outcome": record.outcome,
        "sync.duration_s": round(record.duration_seconds, 3),
        "sync.issues": record.issues,
    }
    attributes.update({f"sync.count.{name.replace(' ', '_')}": n for name, n in sorted(record.counts.items())})
    return attributes


async def record_run(
    services: Services, report: RunReport | None, *, user_id: str, started: datetime, detail: str = ""
) -> RunRecord:
    """Store the user's last run (``report`` None: the run raised, ``detail`` says why) and log it once."""
    now = services.clock()
    record = RunRecord(
        user_id=user_id,
        outcome="failed" if report is None else report.status,
        started_at=started,
        finished_at=now,
        counts=dict(report.done) if report is not None else {},
        issues=len(report.issues) if report is not None else 0,
        detail=safe_text(detail or (report.detail if report is not None else "")),
        next_due=next_safety_net(now),
        correlation_id=current_correlation_id(),
    )
    log_run(record)
    try:
        return await services.state.record_run(record)
    except Exception as error:
        log.warning("could not record the last run of user %s (%s)", outside(user_id), type(error).__name__)
        return record


def log_run(record: RunRecord) -> None:
    counts = ", ".join(f"{name}={count}" for name, count in sorted(record.counts.items()))
    log.info(
        "sync run of user %s: %s in %.1f s%s",
        outside(record.user_id),
        record.outcome,
        record.duration_seconds,
        f" ({counts})" if counts else "",
        extra=run_attributes(record),
    )


Work = Callable[[], Awaitable[object]]


async def record_job(services: Services, name: str, work: Work) -> object:
    """Run a job and store its last run (outcome, counts from what it returned); its error propagates."""
    try:
        result = await work()
    except Exception as error:
        await _store_job(services, name, "failed", {}, f"{type(error).__name__}: {error}")
        raise
    await _store_job(services, name, "ok", _counts(result), "")
    return result


def _counts(result: object) -> dict[str, int]:
    if isinstance(result, Mapping):
        return {str(key): int(value) for key, value in result.items() if isinstance(value, int)}
    if isinstance(result, int) and not isinstance(result, bool):
        return {"count": result}
    return {}


async def _store_job(services: Services, name: str, outcome: str, counts: dict[str, int], detail: str) -> None:
    record = JobRecord(
        name=name,
        outcome=outcome,
        at=services.clock(),
        counts=counts,
        detail=safe_text(detail, secrets=secrets_of(services.settings)),
    )
    try:
        await services.state.record_job_run(record)
    except Exception as error:
        log.warning("could not record the last run of job %s (%s)", name, type(error).__name__)
