"""A small local host for the Python v2 Azure Functions app, for the demo and integration tests only.

Entry points: ``LocalFunctionsHost`` (in-process API), ``load_app``, ``load_local_settings`` and the CLI
``python -m emulators.functions_host``. See README.md in this folder.
"""

from emulators.functions_host.app_settings import load_local_settings
from emulators.functions_host.catalog import FunctionSpec, load_app, read_functions
from emulators.functions_host.host import Invocation, LocalFunctionsHost
from emulators.functions_host.host_config import HostConfig, QueueOptions

__all__ = [
    "FunctionSpec",
    "HostConfig",
    "Invocation",
    "LocalFunctionsHost",
    "QueueOptions",
    "load_app",
    "load_local_settings",
    "read_functions",
]
