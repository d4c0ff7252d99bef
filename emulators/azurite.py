"""Start Azurite (Table and Queue storage) in memory on free loopback ports, and stop it cleanly.

``python -m emulators.azurite -- CMD ...`` runs CMD with ``AZURITE_CONNECTION_STRING`` set and stops
Azurite afterwards, whatever CMD's outcome; the exit status is CMD's. Free ports make parallel runs safe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite"
# The well-known development account of the storage emulators (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connection_string(queue_port: int, table_port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{ACCOUNT};"
        f"TableEndpoint=http://127.0.0.1:{table_port}/{ACCOUNT};"
    )


def _wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"Azurite did not listen on 127.0.0.1:{port}")


@contextlib.contextmanager
def running_azurite(*, quiet: bool = True) -> Iterator[str]:
    """Azurite's Queue and Table services in memory; yields the connection string."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"{AZURITE_BIN} is missing: run `npm ci` (make test does it)")
    queue_port, table_port, blob_port = _free_port(), _free_port(), _free_port()
    command = [
        str(AZURITE_BIN),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableProductStyleUrl",
        "--disableTelemetry",  # since 3.35.0 Azurite sends usage telemetry unless told not to
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(blob_port),
        "--queueHost",
        "127.0.0.1",
        "--queuePort",
        str(queue_port),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(table_port),
    ]
    out = subprocess.DEVNULL if quiet else None
    # A session of its own, so the whole process group (node and children) is stopped at the end.
    process = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        _wait_listening(queue_port, deadline)
        _wait_listening(table_port, deadline)
        yield connection_string(queue_port, table_port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m emulators.azurite -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with running_azurite() as conn:
        env = {**os.environ, "AZURITE_CONNECTION_STRING": conn}
        return subprocess.call(argv, env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
