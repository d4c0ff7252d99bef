"""``python -m emulators.functions_host --app function_app:app --port 7071 [--env-file local.settings.json]``

Serves the HTTP functions, polls the queues and fires the timers until SIGINT or SIGTERM, then stops cleanly.
The first line on stdout is ``Functions host listening on <base URL>``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from emulators.functions_host.app_settings import load_local_settings
from emulators.functions_host.catalog import FunctionSpec, HttpTrigger, QueueTrigger
from emulators.functions_host.host import LocalFunctionsHost


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulators.functions_host", description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--app-dir", type=Path, default=Path.cwd(), help="folder holding the app module and host.json")
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (0: a free one)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (loopback by default)")
    parser.add_argument("--env-file", type=Path, help="local.settings.json whose Values become app settings")
    parser.add_argument("--host-json", type=Path, help="host.json (default: the one in --app-dir, if any)")
    parser.add_argument("--no-queues", action="store_true", help="do not poll queues")
    parser.add_argument("--no-timers", action="store_true", help="do not fire timers on their schedule")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="longest wait between polls of an empty queue (default: host.json's maxPollingInterval, as in Azure)",
    )
    return parser.parse_args(argv)


async def _serve(host: LocalFunctionsHost, arguments: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with host.serving(
        port=arguments.port,
        bind=arguments.bind,
        poll_queues=not arguments.no_queues,
        run_schedules=not arguments.no_timers,
    ) as base_url:
        print(f"Functions host listening on {base_url}", flush=True)
        for function in host.functions:
            print(f"  {function.name}: {_describe(function, base_url, host)}", flush=True)
        await stop.wait()
    print("Functions host stopped", flush=True)


def _describe(function: FunctionSpec, base_url: str, host: LocalFunctionsHost) -> str:
    disabled = " (disabled)" if host.is_disabled(function) else ""
    trigger = function.trigger
    if isinstance(trigger, HttpTrigger):
        prefix = f"/{host.config.route_prefix}" if host.config.route_prefix else ""
        return f"[{','.join(trigger.methods)}] {base_url}{prefix}/{trigger.route.template}{disabled}"
    if isinstance(trigger, QueueTrigger):
        return f"queueTrigger {trigger.queue_name}{disabled}"
    return f"timerTrigger {trigger.schedule.expression}{disabled}"


def main(argv: list[str]) -> int:
    arguments = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host_json = arguments.host_json or arguments.app_dir / "host.json"
    host = LocalFunctionsHost(
        arguments.app,
        environ=load_local_settings(arguments.env_file) if arguments.env_file else {},
        host_json=host_json if host_json.exists() else None,
        app_dir=arguments.app_dir.resolve(),
        poll_interval=arguments.poll_interval,
    )
    asyncio.run(_serve(host, arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
