"""The status page's read model: each user's last run and each job's last run, on every state store (contract)."""

from __future__ import annotations

from datetime import timedelta

from shared.state.model import JobRecord, RunRecord
from shared.state.port import StateStore
from tests.state.conftest import NOW


def run(user_id: str = "U-ANN", **changes: object) -> RunRecord:
    values: dict[str, object] = {
        "user_id": user_id,
        "outcome": "ok",
        "started_at": NOW,
        "finished_at": NOW + timedelta(seconds=2.5),
        "counts": {"create_event": 3, "update_activity": 1},
        "issues": 1,
        "detail": "",
        "next_due": NOW + timedelta(minutes=15),
        "correlation_id": "c0ffee",
    }
    values.update(changes)
    return RunRecord.model_validate(values)


async def test_a_users_last_run_round_trips_with_its_counts_and_duration(store: StateStore) -> None:
    """What the worker records after a run is what the status page reads back: outcome, counts, timing."""
    recorded = await store.record_run(run())
    assert recorded.etag
    [read] = await store.last_runs()
    assert read.model_dump(exclude={"etag"}) == run().model_dump(exclude={"etag"})
    assert read.duration_seconds == 2.5


async def test_a_later_run_replaces_the_users_record_so_there_is_one_row_per_user(store: StateStore) -> None:
    """Only the last run is kept: the read model grows with the tenant's users, never with its runs."""
    await store.record_run(run())
    await store.record_run(run(outcome="failed", detail="the ERP is down", counts={}, next_due=None))
    await store.record_run(run("U-BOB"))
    runs = {record.user_id: record for record in await store.last_runs()}
    assert set(runs) == {"U-ANN", "U-BOB"}
    assert (runs["U-ANN"].outcome, runs["U-ANN"].detail, runs["U-ANN"].counts) == ("failed", "the ERP is down", {})
    assert runs["U-ANN"].next_due is None


async def test_user_ids_with_characters_tables_forbid_in_keys_still_round_trip(store: StateStore) -> None:
    """User ids come from the ERP; one with a slash or a hash is stored under an escaped key and read back."""
    await store.record_run(run("U/1#x"))
    assert [record.user_id for record in await store.last_runs()] == ["U/1#x"]


async def test_job_runs_are_kept_per_job_name_and_the_latest_wins(store: StateStore) -> None:
    """Timers and daily jobs record their last run; the page lists one row per job."""
    await store.record_job_run(JobRecord(name="safety_net", outcome="ok", at=NOW, counts={"queued": 2}))
    await store.record_job_run(
        JobRecord(name="safety_net", outcome="failed", at=NOW + timedelta(minutes=15), detail="ERP down")
    )
    await store.record_job_run(JobRecord(name="maintain_subscriptions", outcome="ok", at=NOW))
    jobs = {job.name: job for job in await store.job_runs()}
    assert set(jobs) == {"safety_net", "maintain_subscriptions"}
    assert (jobs["safety_net"].outcome, jobs["safety_net"].detail) == ("failed", "ERP down")
    assert jobs["safety_net"].at == NOW + timedelta(minutes=15)
    assert jobs["safety_net"].counts == {}


async def test_runs_and_jobs_are_empty_on_a_fresh_store(store: StateStore) -> None:
    """A tenant that never ran shows no runs (the page says so) rather than failing."""
    assert list(await store.last_runs()) == []
    assert list(await store.job_runs()) == []
