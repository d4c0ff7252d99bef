"""Timers: the safety-net delta run (R32) and subscription upkeep."""

from __future__ import annotations

import azure.functions as func

from shared import handlers
from shared.composition import services

bp = func.Blueprint()

SAFETY_NET_SCHEDULE = "0 */15 * * * *"  # every 15 minutes
# Hourly: creates the subscriptions of new users, renews what expires within a day, recreates what is lost.
# Not on startup: every instance that starts would run it at once, with no lease.
SUBSCRIPTIONS_SCHEDULE = "0 5 * * * *"


@bp.function_name("safety_net")
@bp.timer_trigger(arg_name="timer", schedule=SAFETY_NET_SCHEDULE, run_on_startup=False, use_monitor=True)
async def safety_net(timer: func.TimerRequest) -> None:
    await handlers.safety_net(await services())


@bp.function_name("maintain_subscriptions")
@bp.timer_trigger(arg_name="timer", schedule=SUBSCRIPTIONS_SCHEDULE, run_on_startup=False, use_monitor=True)
async def maintain_subscriptions(timer: func.TimerRequest) -> None:
    await handlers.maintain_subscriptions(await services())
