"""``python -m emulators.graph --host 127.0.0.1 --port N``: serve the emulator with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from emulators.graph.app import create_app
from emulators.graph.config import EmulatorConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.graph", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-subscription-minutes", type=int, default=EmulatorConfig().max_subscription_minutes)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    config = EmulatorConfig(max_subscription_minutes=args.max_subscription_minutes)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
