"""Timers: the safety-net delta run (R32), subscription upkeep, and the daily close (R29) and clean-up jobs."""

from __future__ import annotations

import azure.functions as func

from shared import handlers
from shared.composition import services
from shared.handlers.runs import record_job
from shared.settings import DEFAULT_CLEANUP_SCHEDULE, DEFAULT_CLOSE_SCHEDULE, schedule_setting
from shared.telemetry import correlated

bp = func.Blueprint()

SAFETY_NET_SCHEDULE = "0 */15 * * * *"  # every 15 minutes
# Hourly: creates the subscriptions of new users, renews what expires within a day, recreates what is lost.
# Not on startup: every instance that starts would run it at once, with no lease.
SUBSCRIPTIONS_SCHEDULE = "0 5 * * * *"
# Once a night (UTC) by default; the app settings name another time (read when the host indexes the functions).
CLOSE_SCHEDULE = schedule_setting("SYNC_CLOSE_SCHEDULE", DEFAULT_CLOSE_SCHEDULE)
CLEANUP_SCHEDULE = schedule_setting("SYNC_CLEANUP_SCHEDULE", DEFAULT_CLEANUP_SCHEDULE)


@bp.function_name("safety_net")
@bp.timer_trigger(arg_name="timer", schedule=SAFETY_NET_SCHEDULE, run_on_startup=False, use_monitor=True)
async def safety_net(timer: func.TimerRequest) -> None:
    built = await services()
    with correlated():  # the syncs it queues carry this run's id; its last run is shown on the status page
        await record_job(built, "safety_net", lambda: handlers.safety_net(built))


@bp.function_name("maintain_subscriptions")
@bp.timer_trigger(arg_name="timer", schedule=SUBSCRIPTIONS_SCHEDULE, run_on_startup=False, use_monitor=True)
async def maintain_subscriptions(timer: func.TimerRequest) -> None:
    built = await services()
    with correlated():
        await record_job(built, "maintain_subscriptions", lambda: handlers.maintain_subscriptions(built))


@bp.function_name("daily_close")
@bp.timer_trigger(arg_name="timer", schedule=CLOSE_SCHEDULE, run_on_startup=False, use_monitor=True)
async def daily_close(timer: func.TimerRequest) -> None:
    built = await services()
    with correlated():
        await record_job(built, "daily_close", lambda: handlers.daily_close(built))


@bp.function_name("daily_cleanup")
@bp.timer_trigger(arg_name="timer", schedule=CLEANUP_SCHEDULE, run_on_startup=False, use_monitor=True)
async def daily_cleanup(timer: func.TimerRequest) -> None:
    built = await services()
    with correlated():
        await record_job(built, "daily_cleanup", lambda: handlers.daily_cleanup(built))
