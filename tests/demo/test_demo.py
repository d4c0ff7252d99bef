"""`make demo` end to end: the real function app on the local host with Azurite, the Graph emulator and the
reference ERP over loopback HTTP (issue 2, "done when": creates, an update and a delete each way)."""

from __future__ import annotations

import pytest

from emulators.demo import run_demo


@pytest.mark.integration
async def test_demo_syncs_every_change_both_ways_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """Every check the demo prints passes: notifications and the ERP hook drive creates, updates and deletes;
    the admin's status page shows a conflict, a refused item, an unsyncable user, a halted deletion and each
    user's last run (issue 13)."""
    assert await run_demo(keep_running=False) == 0
    printed = capsys.readouterr().out
    assert "MISSING" not in printed
    assert "FAILED" not in printed
    assert "Checks: 16 of 16 passed" in printed  # with leave, the nightly jobs (issue 11) and series (issue 10)
    for shown in ("a conflict (R7)", "a refused item (R13)", "an unsyncable user (R2)", "a halted deletion (R11)"):
        assert f"shown     {shown}" in printed
    assert "shown     each user's last run" in printed
