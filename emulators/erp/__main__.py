"""``python -m emulators.erp --host 127.0.0.1 --port 8081 --db erp.sqlite`` serves the reference ERP;
``python -m emulators.erp seed --db erp.sqlite [--file seed.json]`` seeds it (the demo seed by default).

The API key, hook URL and hook secret come from the options or from ``ERP_API_KEY``, ``ERP_HOOK_URL``
and ``ERP_HOOK_SECRET`` (options win), so secrets need not appear on a command line. ``--no-series`` serves an
ERP without recurring series (R28), as many ERPs are: ``GET /capabilities`` answers ``series: false``.
``--max-attachment-bytes`` sets the largest file an activity takes (R18, 25 MiB by default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from emulators.erp.attachment_records import DEFAULT_MAX_ATTACHMENT_BYTES
from emulators.erp.seed import DEMO_SEED, seed_file


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.erp", description="Serve the reference ERP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--db", default="erp.sqlite", help="SQLite file, or :memory:")
    parser.add_argument("--api-key", default=os.environ.get("ERP_API_KEY"))
    parser.add_argument("--hook-url", default=os.environ.get("ERP_HOOK_URL"))
    parser.add_argument("--hook-secret", default=os.environ.get("ERP_HOOK_SECRET"))
    parser.add_argument("--seed", help="seed this JSON file into --db before serving")
    parser.add_argument(
        "--no-series",
        dest="series",
        action="store_false",
        help="serve an ERP without recurring series (R28): activities with a recurrence are refused",
    )
    parser.add_argument(
        "--max-attachment-bytes",
        type=int,
        default=DEFAULT_MAX_ATTACHMENT_BYTES,
        help="the largest file an activity takes (R18; default 25 MiB, 0: no files)",
    )
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("an API key is required: --api-key or ERP_API_KEY")
    if args.hook_url and not args.hook_secret:
        parser.error("--hook-url needs --hook-secret (or ERP_HOOK_SECRET)")
    if args.seed:
        if args.db == ":memory:":
            parser.error("--seed needs a file --db")
        seed_file(args.db, args.seed)

    import uvicorn

    from emulators.erp.app import create_app

    app = create_app(
        args.db,
        api_key=args.api_key,
        hook_url=args.hook_url or None,
        hook_secret=args.hook_secret,
        series=args.series,
        max_attachment_bytes=args.max_attachment_bytes,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _seed(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.erp seed", description="Seed the reference ERP.")
    parser.add_argument("--db", required=True)
    parser.add_argument("--file", default=str(DEMO_SEED))
    args = parser.parse_args(argv)
    created = seed_file(args.db, args.file)
    print(json.dumps(created))
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "seed":
        return _seed(argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]
    return _serve(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
