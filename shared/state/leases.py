"""Leases in Table Storage: one row per user; whoever holds an unexpired row syncs that user alone.

Taking a lease inserts the row, or replaces an expired one on condition of its ETag; renewing and releasing
are conditional on the ETag the holder last saw, so a worker never renews or drops a lease another worker
took over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.state import entities as ent
from shared.state import rows
from shared.state.model import Lease

_ATTEMPTS = 5  # lease insert/take-over rounds; each round ends or someone else won


class TableLeases:
    def __init__(self, table: TableClient) -> None:
        self._leases = table

    async def acquire_lease(self, user_id: str, *, owner: str, now: datetime, ttl_seconds: float) -> Lease | None:
        """The lease when free or expired (``expires_at <= now``), else None, even for the same owner."""
        lease = Lease(user_id=user_id, owner=owner, expires_at=now + timedelta(seconds=ttl_seconds))
        entity = ent.lease_entity(lease)
        for _ in range(_ATTEMPTS):
            try:
                created = await self._leases.create_entity(entity)
                return lease.model_copy(update={"etag": str(created["etag"])})
            except ResourceExistsError:
                pass
            stored = await rows.get(self._leases, *ent.lease_keys(user_id))
            if stored is None:
                continue  # released between our insert and our read: try the insert again
            if ent.from_table_datetime(stored["expires_at"]) > ent.to_utc(now, what="now"):
                return None
            try:
                replaced = await self._leases.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=ent.etag_of(stored),
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                return None  # another worker took the expired lease over first
            except ResourceNotFoundError:
                continue
            return lease.model_copy(update={"etag": str(replaced["etag"])})
        return None

    async def renew_lease(self, lease: Lease, *, now: datetime, ttl_seconds: float) -> Lease | None:
        """Replace the lease with a later expiry on condition of its ETag; None when it was lost meanwhile."""
        if lease.etag is None:
            return None  # cannot prove it is still ours
        renewed = lease.model_copy(update={"expires_at": now + timedelta(seconds=ttl_seconds), "etag": None})
        try:
            replaced = await self._leases.update_entity(
                ent.lease_entity(renewed),
                mode=UpdateMode.REPLACE,
                etag=lease.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None  # released, or expired and taken over by another worker
        return renewed.model_copy(update={"etag": str(replaced["etag"])})

    async def get_lease(self, user_id: str) -> Lease | None:
        stored = await rows.get(self._leases, *ent.lease_keys(user_id))
        return None if stored is None else ent.lease_from_entity(stored, ent.etag_of(stored))

    async def release_lease(self, lease: Lease) -> None:
        """Give the lease up; a lease that expired and was taken over by another worker is left alone."""
        partition, row = ent.lease_keys(lease.user_id)
        etag = lease.etag
        if etag is None:
            stored = await rows.get(self._leases, partition, row)
            if stored is None or stored["owner"] != lease.owner:
                return
            etag = ent.etag_of(stored)
        try:
            await self._leases.delete_entity(
                partition_key=partition, row_key=row, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return
