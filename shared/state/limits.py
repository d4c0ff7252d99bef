"""Azure Table Storage limits, checked before a request leaves (Azurite does not enforce them all).

Sizes follow Microsoft's entity-size formula ("Understanding the Table service data model" and
"How the size of an entity is calculated"): 4 bytes + 2 x (PartitionKey + RowKey length) + per property
8 bytes + 2 x name length + the value (string 4 + 2 x UTF-16 length, DateTime/Int64/Double 8, Int32 4,
Bool 1). An entity is at most 1 MiB with at most 252 own properties; a string at most 64 KiB
(32 K UTF-16 code units); a transaction at most 100 operations, all in one partition, each entity once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from azure.data.tables import EdmType, EntityProperty

from shared.errors import StateLimitExceeded
from shared.state.keys import check_key, utf16_units

MAX_ENTITY_BYTES = 1024 * 1024
MAX_PROPERTIES = 252
MAX_STRING_UTF16_UNITS = 32 * 1024
MAX_TRANSACTION_OPERATIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024  # the whole request body of an entity-group transaction

_KEY_NAMES = frozenset({"PartitionKey", "RowKey"})


def value_size(value: object) -> int:
    """Bytes one property value counts for in the entity size."""
    if isinstance(value, EntityProperty):
        return 8 if value.edm_type in (EdmType.INT64, EdmType.DOUBLE, EdmType.DATETIME) else value_size(value.value)
    if isinstance(value, str):
        return 4 + 2 * utf16_units(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4
    if isinstance(value, float | datetime):
        return 8
    if isinstance(value, bytes):
        return 4 + len(value)
    raise TypeError(f"no Table size known for {type(value).__name__}")


def entity_size(entity: Mapping[str, Any]) -> int:
    """Bytes the entity counts for against the 1 MiB limit."""
    size = 4 + 2 * (utf16_units(entity["PartitionKey"]) + utf16_units(entity["RowKey"]))
    for name, value in entity.items():
        if name in _KEY_NAMES or value is None:
            continue
        size += 8 + 2 * len(name) + value_size(value)
    return size


def check_entity(entity: Mapping[str, Any], *, what: str) -> None:
    """Refuse an entity the Table service would refuse; the message names ``what`` and the property."""
    check_key(entity["PartitionKey"], what=f"{what} PartitionKey")
    check_key(entity["RowKey"], what=f"{what} RowKey")
    properties = [name for name, value in entity.items() if name not in _KEY_NAMES and value is not None]
    if len(properties) > MAX_PROPERTIES:
        raise StateLimitExceeded(f"{what} has {len(properties)} properties; Table Storage allows {MAX_PROPERTIES}")
    for name in properties:
        value = entity[name]
        if isinstance(value, str) and utf16_units(value) > MAX_STRING_UTF16_UNITS:
            raise StateLimitExceeded(
                f"{what} property {name!r} is {utf16_units(value)} UTF-16 code units; "
                f"Table Storage allows {MAX_STRING_UTF16_UNITS} (64 KiB)"
            )
    size = entity_size(entity)
    if size > MAX_ENTITY_BYTES:
        raise StateLimitExceeded(f"{what} is {size} bytes; Table Storage allows {MAX_ENTITY_BYTES} (1 MiB)")


def check_transaction(operations: Sequence[tuple[Any, ...]], *, what: str) -> None:
    """Refuse a batch the service would reject: over 100 operations, two partitions, one entity twice."""
    if not operations:
        raise StateLimitExceeded(f"{what}: an empty transaction")
    if len(operations) > MAX_TRANSACTION_OPERATIONS:
        raise StateLimitExceeded(
            f"{what} needs {len(operations)} operations in one transaction; "
            f"Table Storage allows {MAX_TRANSACTION_OPERATIONS}"
        )
    partitions = {operation[1]["PartitionKey"] for operation in operations}
    if len(partitions) > 1:
        raise StateLimitExceeded(f"{what} spans {len(partitions)} partitions; a transaction allows one")
    rows = [operation[1]["RowKey"] for operation in operations]
    if len(set(rows)) != len(rows):
        raise StateLimitExceeded(f"{what} touches the same entity twice; a transaction allows each once")
