"""The Azure Functions app: checks the settings, sets up telemetry and registers the blueprints; nothing else
(the logic is in ``shared``).

The settings are checked here, while the host indexes the app: a missing or invalid setting fails indexing
with one ``SettingsError`` naming each bad setting (never its value), which the host logs, instead of every
function failing at its first invocation.
"""

import azure.functions as func

from shared.functions import erp_hook, graph_webhooks, status, sync_worker, timers
from shared.settings import load_settings
from shared.telemetry import configure_telemetry

load_settings()
configure_telemetry()

app = func.FunctionApp()
app.register_functions(graph_webhooks.bp)
app.register_functions(erp_hook.bp)
app.register_functions(sync_worker.bp)
app.register_functions(timers.bp)
app.register_functions(status.bp)
