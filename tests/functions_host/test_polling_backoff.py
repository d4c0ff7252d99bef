"""The queue trigger's polling: the real host's back-off, and the production ``host.json`` (issue 12, item 6).

Page "Azure Queue storage trigger", polling algorithm
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#polling-algorithm):
after messages the host polls again soon; on an empty queue it waits about 200 ms, then longer and longer up
to ``maxPollingInterval`` (1 minute by default), so an idle app could pick up a notification's work a minute
late unless host.json lowers it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from emulators.functions_host.host import next_poll_delay
from emulators.functions_host.host_config import HostConfig

ROOT = Path(__file__).resolve().parents[2]


def test_empty_polls_back_off_from_200_ms_to_the_maximum() -> None:
    """200 ms first, then about doubling (±20 %), never past the cap; messages found start it over."""
    delays, delay = [], None
    for _ in range(8):
        delay = next_poll_delay(delay, cap=2.0, jitter=lambda: 0.5)
        delays.append(delay)
    assert delays[:4] == [0.2, 0.4, 0.8, 1.6]
    assert delays[4:] == [2.0] * 4
    assert next_poll_delay(None, cap=2.0) == 0.2
    assert 0.32 <= next_poll_delay(0.2, cap=2.0) <= 0.48


def test_production_host_json_polls_an_idle_queue_at_least_every_two_seconds() -> None:
    """host.json sets ``maxPollingInterval`` to 2 s, so an idle worker picks up work within seconds in Azure."""
    config = HostConfig.load(ROOT / "host.json")
    assert config.queues.max_polling_interval == timedelta(seconds=2)
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    assert queues["batchSize"] >= 1
