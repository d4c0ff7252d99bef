"""A run's time budget (issue 12, big mailboxes): a run stops writing before the function timeout and the
next invocation carries on.

A mailbox with thousands of events cannot be written in one invocation (host.json ``functionTimeout`` is
10 minutes; at ~100 ms a Graph or ERP call, 5,000 creates take longer). The plan is executed in chunks; when
the budget is spent, the run stops between two chunks without moving its cursors. Every write already
saved its link (``core.records``), so the next invocation reads the same changes again, finds those items
linked (nothing written twice), and writes the rest: the links are the checkpoint. The worker queues that
next invocation at once (``shared/handlers/worker.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.core.actions import Action
from shared.sync.context import RunContext
from shared.sync.executor import execute_all

# Seconds a run may spend before it stops writing: the function timeout (600 s) less the reads before the
# plan and the delta follow-up and cursor saves after it.
RUN_BUDGET_SECONDS = 420.0
CHUNK = 100  # actions between two looks at the clock (five $batch groups of 20)


async def execute_within(actions: Sequence[Action], run: RunContext, deadline: datetime) -> int:
    """Execute the plan's actions in order, chunk by chunk, until done or ``deadline``; how many were left. The
    first chunk always runs, so every invocation makes progress."""
    for start in range(0, len(actions), CHUNK):
        if start and run.now() >= deadline:
            return len(actions) - start
        await execute_all(actions[start : start + CHUNK], run)
    return 0
