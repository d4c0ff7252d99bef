"""The status page's read model in Table Storage: ``<prefix>Runs``, one row per user and one per job.

PartitionKey ``run``, RowKey = user id: the user's last run (``RunRecord``). PartitionKey ``job``, RowKey =
job name: the job's last run (``JobRecord``). Each write replaces the row (upsert, last writer wins), so the
table stays as small as the tenant: listing a partition is one query over at most a few hundred rows.
Counts are stored as one JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.state.entities import Entity, etag_of, from_table_datetime, to_utc
from shared.state.keys import make_key
from shared.state.limits import check_entity
from shared.state.model import JobRecord, RunRecord

RUN_PARTITION = "run"
JOB_PARTITION = "job"


def run_entity(record: RunRecord) -> Entity:
    entity: Entity = {
        "PartitionKey": RUN_PARTITION,
        "RowKey": make_key(record.user_id, what="user id"),
        "user_id": record.user_id,
        "outcome": record.outcome,
        "started_at": to_utc(record.started_at, what="started_at"),
        "finished_at": to_utc(record.finished_at, what="finished_at"),
        "counts": json.dumps(record.counts, sort_keys=True),
        "issues": record.issues,
        "detail": record.detail,
    }
    if record.next_due is not None:
        entity["next_due"] = to_utc(record.next_due, what="next_due")
    if record.correlation_id is not None:
        entity["correlation_id"] = record.correlation_id
    check_entity(entity, what=f"run record of {record.user_id!r}")
    return entity


def run_from_entity(entity: Mapping[str, Any], etag: str) -> RunRecord:
    return RunRecord(
        user_id=entity["user_id"],
        outcome=entity["outcome"],
        started_at=from_table_datetime(entity["started_at"]),
        finished_at=from_table_datetime(entity["finished_at"]),
        counts=json.loads(entity.get("counts") or "{}"),
        issues=int(entity.get("issues") or 0),
        detail=entity.get("detail") or "",
        next_due=None if entity.get("next_due") is None else from_table_datetime(entity["next_due"]),
        correlation_id=entity.get("correlation_id"),
        etag=etag,
    )


def job_entity(record: JobRecord) -> Entity:
    entity: Entity = {
        "PartitionKey": JOB_PARTITION,
        "RowKey": make_key(record.name, what="job name"),
        "name": record.name,
        "outcome": record.outcome,
        "at": to_utc(record.at, what="at"),
        "counts": json.dumps(record.counts, sort_keys=True),
        "detail": record.detail,
    }
    check_entity(entity, what=f"job record {record.name!r}")
    return entity


def job_from_entity(entity: Mapping[str, Any], etag: str) -> JobRecord:
    return JobRecord(
        name=entity["name"],
        outcome=entity["outcome"],
        at=from_table_datetime(entity["at"]),
        counts=json.loads(entity.get("counts") or "{}"),
        detail=entity.get("detail") or "",
        etag=etag,
    )


class TableRuns:
    """``RunLog`` on one table (see the module's docstring)."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def record_run(self, record: RunRecord) -> RunRecord:
        written = await self._table.upsert_entity(run_entity(record), mode=UpdateMode.REPLACE)
        return record.model_copy(update={"etag": str(written["etag"])})

    async def last_runs(self) -> list[RunRecord]:
        rows = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": RUN_PARTITION})
        return [run_from_entity(row, etag_of(row)) async for row in rows]

    async def record_job_run(self, record: JobRecord) -> JobRecord:
        written = await self._table.upsert_entity(job_entity(record), mode=UpdateMode.REPLACE)
        return record.model_copy(update={"etag": str(written["etag"])})

    async def job_runs(self) -> list[JobRecord]:
        rows = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": JOB_PARTITION})
        return [job_from_entity(row, etag_of(row)) async for row in rows]
