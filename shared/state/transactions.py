"""Entity-group transactions within Table limits, with storage errors turned into ``StateConflict``.

A transaction is all-or-nothing, so it is how a link and its index rows stay in step. Batches that
would break a limit (over 100 operations, two partitions, one entity twice) are REFUSED with
``StateLimitExceeded`` before anything is sent, never split: splitting would silently give up the
atomicity the caller asked for. A caller with more work than one transaction holds must cut it into
independent transactions itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError
from azure.data.tables.aio import TableClient

from shared.errors import StateConflict
from shared.state.limits import check_transaction

# (operation, entity) or (operation, entity, options): the tuple form ``submit_transaction`` accepts.
Operation = tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], Mapping[str, Any]]

# Error codes meaning "someone else changed these rows first" (service and Azurite spellings).
_CONFLICT_CODES = frozenset(
    {
        "EntityAlreadyExists",
        "UpdateConditionNotSatisfied",
        "ConditionNotMet",
        "ResourceNotFound",
        "EntityNotFound",
    }
)


async def submit(table: TableClient, operations: Sequence[Operation], *, what: str) -> list[Mapping[str, Any]]:
    """Run the operations as one transaction; the service's per-operation metadata (``etag``) in order.

    Raises ``StateLimitExceeded`` for a batch Table Storage would refuse and ``StateConflict`` when an
    ETag no longer matches, a row to create exists or a row to change is gone.
    """
    check_transaction(operations, what=what)
    try:
        return await table.submit_transaction(list(operations))
    except TableTransactionError as error:
        raw_code = getattr(error, "error_code", None)  # set by the SDK's error decoding, not declared
        code = str(getattr(raw_code, "value", raw_code))
        if code in _CONFLICT_CODES:
            failed = operations[error.index] if 0 <= error.index < len(operations) else None
            row = failed[1]["RowKey"] if failed is not None else "?"
            raise StateConflict(f"{what}: {code} on row {row!r}; the stored state changed meanwhile") from error
        raise
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as error:
        raise StateConflict(f"{what}: the stored state changed meanwhile ({error.reason})") from error
