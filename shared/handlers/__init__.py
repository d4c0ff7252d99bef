"""What each Azure Function does, free of the Functions framework (so tests and the demo call it too).

Each handler takes plain inputs and ``Services`` and returns an ``Answer`` or a report; the
blueprints in ``shared/functions`` only translate ``azure.functions`` types. By job: ``webhooks``
(Graph notifications, the ERP hook), ``worker`` (the queue sync), ``jobs`` (the timers), ``daily`` (the
nightly close and clean-up jobs), ``common``.
"""

from shared.handlers.common import TENANT, Answer
from shared.handlers.daily import daily_cleanup, daily_close
from shared.handlers.jobs import RENEW_WHEN_LEFT, maintain_subscriptions, safety_net
from shared.handlers.webhooks import erp_hook, graph_lifecycle, graph_notification, graph_notification_intake
from shared.handlers.worker import BUSY_RETRY_SECONDS, sync_message

__all__ = [
    "BUSY_RETRY_SECONDS",
    "RENEW_WHEN_LEFT",
    "TENANT",
    "Answer",
    "daily_cleanup",
    "daily_close",
    "erp_hook",
    "graph_lifecycle",
    "graph_notification",
    "graph_notification_intake",
    "maintain_subscriptions",
    "safety_net",
    "sync_message",
]
