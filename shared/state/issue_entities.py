"""Issues ↔ Table entities (R31): one row per user and issue key, in the issues table.

An issue's ``payload`` (R7: the side's version that could not be applied) may be large, so it is cut
into ``payload_0``, ``payload_1``, ... of at most 16 K characters each (so at most 32 K UTF-16 units, the
64 KiB string limit). If the whole entity would still exceed 1 MiB, the payload is truncated to fit and
ends with a marker ``[truncated by the state store: K of N characters kept ...]``: recording the issue
matters more than the tail of a payload over half a million characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.state.entities import Entity, as_int, drop_none, from_table_datetime, opt_datetime, opt_utc, to_utc
from shared.state.keys import make_key
from shared.state.limits import MAX_ENTITY_BYTES, MAX_STRING_UTF16_UNITS, check_entity, entity_size
from shared.state.model import Issue, IssueKind

PAYLOAD_CHUNK_CHARS = MAX_STRING_UTF16_UNITS // 2  # a character is at most two UTF-16 units


def issue_keys(user_id: str, key: str) -> tuple[str, str]:
    return make_key(user_id, what="user id"), make_key(key, what="issue key")


def _payload_properties(payload: str) -> Entity:
    chunks = [payload[start : start + PAYLOAD_CHUNK_CHARS] for start in range(0, len(payload), PAYLOAD_CHUNK_CHARS)]
    properties: Entity = {"payload_parts": len(chunks)}
    properties.update({f"payload_{index}": chunk for index, chunk in enumerate(chunks)})
    return properties


def truncation_marker(kept: int, total: int) -> str:
    return (
        f"\n[truncated by the state store: {kept} of {total} characters kept to fit Table Storage's 1 MiB entity limit]"
    )


def issue_entity(issue: Issue) -> Entity:
    partition, row = issue_keys(issue.user_id, issue.key)
    base = drop_none(
        {
            "PartitionKey": partition,
            "RowKey": row,
            "user_id": issue.user_id,
            "key": issue.key,
            "kind": str(issue.kind),
            "reason": issue.reason,
            "event_id": issue.event_id,
            "activity_id": issue.activity_id,
            "first_seen": to_utc(issue.first_seen, what="first_seen"),
            "last_seen": to_utc(issue.last_seen, what="last_seen"),
            "occurrences": issue.occurrences,
            "resolved_at": opt_utc(issue.resolved_at, what="resolved_at"),
            # A stored flag because an OData filter cannot ask for an absent property.
            "is_open": issue.resolved_at is None,
        }
    )
    entity = base
    if issue.payload is not None:
        payload, kept = issue.payload, len(issue.payload)
        entity = base | _payload_properties(payload)
        while (overflow := entity_size(entity) - MAX_ENTITY_BYTES) > 0 and kept > 0:
            # Every character costs at least two bytes; the slack covers the marker and chunk overheads.
            kept = max(0, kept - overflow // 2 - 256)
            payload = issue.payload[:kept] + truncation_marker(kept, len(issue.payload))
            entity = base | _payload_properties(payload)
    check_entity(entity, what=f"issue {issue.key!r} of {issue.user_id!r}")
    return entity


def issue_from_entity(entity: Mapping[str, Any], etag: str) -> Issue:
    parts = entity.get("payload_parts")
    payload = None if parts is None else "".join(entity[f"payload_{index}"] for index in range(as_int(parts)))
    return Issue(
        user_id=entity["user_id"],
        key=entity["key"],
        kind=IssueKind(entity["kind"]),
        reason=entity["reason"],
        event_id=entity.get("event_id"),
        activity_id=entity.get("activity_id"),
        payload=payload,
        first_seen=from_table_datetime(entity["first_seen"]),
        last_seen=from_table_datetime(entity["last_seen"]),
        occurrences=as_int(entity["occurrences"]),
        resolved_at=opt_datetime(entity, "resolved_at"),
        etag=etag,
    )
