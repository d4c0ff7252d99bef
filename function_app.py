"""The Azure Functions app: registers the blueprints, nothing else (the logic is in ``shared``)."""

import azure.functions as func

from shared.functions import erp_hook, graph_webhooks, sync_worker, timers

app = func.FunctionApp()
app.register_functions(graph_webhooks.bp)
app.register_functions(erp_hook.bp)
app.register_functions(sync_worker.bp)
app.register_functions(timers.bp)
