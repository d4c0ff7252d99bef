"""Records ↔ Table entities: which row holds what, and how values are written.

Values: datetimes as ``Edm.DateTime`` in UTC (naive ones are refused: their zone is unknown), enums as
their string values, fingerprints (``Field`` → hash) as sorted JSON strings, ``erp_version`` as
``Edm.Int64``; ``None`` is left out of the entity, which under a replace removes the property.
Every entity is checked against Table limits (``shared.state.limits``) before it is sent.
Issues have their own module (``shared.state.issue_entities``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import EdmType, EntityProperty
from pydantic import TypeAdapter

from shared.core.attachments import AttachmentPair
from shared.core.items import Field, ItemKind, Side
from shared.core.links import Fingerprint, Link, LinkState
from shared.core.meetings import LinkRole
from shared.core.series import SeriesMemo
from shared.state.keys import make_key
from shared.state.limits import check_entity
from shared.state.model import DeltaCursor, ErpCursor, Lease, SubscriptionRecord

Entity = dict[str, Any]

# Row kinds in the links table (see ``shared.state.tables``).
LINK_ROW = "link"
EVENT_ROW = "event"
ACTIVITY_ROW = "activity"
ICAL_ROW = "ical"
DELTA_ROW = "delta"
ERP_ROW = "erp"
SUBSCRIPTION_PARTITION = "subscription"
LEASE_PARTITION = "lease"


# --- values ----------------------------------------------------------------------------------------


def to_utc(value: datetime, *, what: str) -> datetime:
    """The instant in UTC; refuses a naive datetime rather than guess its zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime; the state store keeps aware UTC instants only")
    return value.astimezone(UTC)


def opt_utc(value: datetime | None, *, what: str) -> datetime | None:
    return None if value is None else to_utc(value, what=what)


def from_table_datetime(value: object) -> datetime:
    """A plain aware UTC datetime from the SDK's ``TablesEntityDatetime`` (or an ISO string)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(UTC)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a DateTime property, got {type(value).__name__}")
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond, tzinfo=UTC
    )


def opt_datetime(entity: Mapping[str, Any], name: str) -> datetime | None:
    value = entity.get(name)
    return None if value is None else from_table_datetime(value)


def as_int(value: object) -> int:
    raw = value.value if isinstance(value, EntityProperty) else value
    if not isinstance(raw, int | str):
        raise TypeError(f"expected an integer property, got {type(raw).__name__}")
    return int(raw)


def _fingerprint_json(fingerprint: Fingerprint) -> str:
    return json.dumps({str(field): digest for field, digest in fingerprint.items()}, sort_keys=True)


def _fingerprint(text: str | None) -> Fingerprint:
    if not text:
        return {}
    return {Field(name): str(digest) for name, digest in json.loads(text).items()}


_PAIRS = TypeAdapter(tuple[AttachmentPair, ...])


def _pairs_json(pairs: tuple[AttachmentPair, ...]) -> str | None:
    return _PAIRS.dump_json(pairs).decode() if pairs else None


def drop_none(entity: Entity) -> Entity:
    return {name: value for name, value in entity.items() if value is not None}


def etag_of(entity: Any) -> str:
    """The ETag the SDK put in a read entity's metadata."""
    return str(entity.metadata["etag"])


# --- links -----------------------------------------------------------------------------------------


def user_partition(user_id: str) -> str:
    return make_key(user_id, what="user id")


def link_row(link_id: str) -> str:
    return make_key(LINK_ROW, link_id, what="link id")


def event_row(event_id: str) -> str:
    return make_key(EVENT_ROW, event_id, what="event id")


def activity_row(activity_id: str) -> str:
    return make_key(ACTIVITY_ROW, activity_id, what="activity id")


def legacy_ical_row(ical_uid: str, link_id: str) -> str:
    """An iCalUId index row, written by versions before issue 12's last step (nothing read it); a link stored
    then still has one, deleted with the link or when the link is next saved."""
    return make_key(ICAL_ROW, ical_uid, link_id, what="iCalUId index")


def link_entity(link: Link) -> Entity:
    entity = drop_none(
        {
            "PartitionKey": user_partition(link.user_id),
            "RowKey": link_row(link.link_id),
            "user_id": link.user_id,
            "link_id": link.link_id,
            "kind": str(link.kind),
            "origin": str(link.origin),
            "state": str(link.state),
            "role": str(link.role),
            "event_id": link.event_id,
            "ical_uid": link.ical_uid,
            "activity_id": link.activity_id,
            "m365_fields": _fingerprint_json(link.m365_fields),
            "erp_fields": _fingerprint_json(link.erp_fields),
            "response": link.response,
            "m365_change_key": link.m365_change_key,
            "erp_version": None if link.erp_version is None else EntityProperty(link.erp_version, EdmType.INT64),
            "m365_modified_at": opt_utc(link.m365_modified_at, what="m365_modified_at"),
            "erp_modified_at": opt_utc(link.erp_modified_at, what="erp_modified_at"),
            "updated_at": opt_utc(link.updated_at, what="updated_at"),
            # R28: an occurrence's series and position; a series' memo (core.series.SeriesMemo) as JSON.
            "series_master_id": link.series_master_id,
            "original_start": opt_utc(link.original_start, what="original_start"),
            "series": link.series.model_dump_json() if link.series is not None else None,
            # R18: the files synced both ways, as JSON (absent while there are none).
            "attachments": _pairs_json(link.attachments),
            # R10: written only for a meeting not claimed yet (rows without it were all claimed).
            "claimed": None if link.claimed else False,
            # No iCalUId index row is written any more (``stored_index_rows``).
            "ical_index": False,
        }
    )
    check_entity(entity, what=f"link {link.link_id!r}")
    return entity


def link_from_entity(entity: Mapping[str, Any], etag: str) -> Link:
    return Link(
        user_id=entity["user_id"],
        link_id=entity["link_id"],
        kind=ItemKind(entity["kind"]),
        origin=Side(entity["origin"]),
        state=LinkState(entity["state"]),
        # Rows written before R10 copies existed carry no role: they were all owners.
        role=LinkRole(entity.get("role", LinkRole.OWNER)),
        event_id=entity.get("event_id"),
        ical_uid=entity.get("ical_uid"),
        activity_id=entity.get("activity_id"),
        m365_fields=_fingerprint(entity.get("m365_fields")),
        erp_fields=_fingerprint(entity.get("erp_fields")),
        response=entity.get("response"),
        m365_change_key=entity.get("m365_change_key"),
        erp_version=None if entity.get("erp_version") is None else as_int(entity["erp_version"]),
        m365_modified_at=opt_datetime(entity, "m365_modified_at"),
        erp_modified_at=opt_datetime(entity, "erp_modified_at"),
        updated_at=opt_datetime(entity, "updated_at"),
        series_master_id=entity.get("series_master_id"),
        original_start=opt_datetime(entity, "original_start"),
        series=SeriesMemo.model_validate_json(entity["series"]) if entity.get("series") else None,
        attachments=_PAIRS.validate_json(entity["attachments"]) if entity.get("attachments") else (),
        claimed=entity.get("claimed") is not False,
        etag=etag,
    )


def index_rows(link: Link) -> set[str]:
    """Row keys of the index rows that point at this link."""
    rows: set[str] = set()
    if link.event_id:
        rows.add(event_row(link.event_id))
    if link.activity_id:
        rows.add(activity_row(link.activity_id))
    return rows


def stored_index_rows(entity: Mapping[str, Any], link: Link) -> set[str]:
    """The index rows a stored link entity has: ``index_rows``, and the iCalUId row of a link stored before
    those rows were dropped (its entity lacks the ``ical_index`` mark every link entity is written with now)."""
    rows = index_rows(link)
    if link.ical_uid and "ical_index" not in entity:
        rows.add(legacy_ical_row(link.ical_uid, link.link_id))
    return rows


def index_entity(user_id: str, row_key: str, link_id: str) -> Entity:
    entity: Entity = {"PartitionKey": user_partition(user_id), "RowKey": row_key, "link_id": link_id}
    check_entity(entity, what="link index row")
    return entity


# --- cursors ---------------------------------------------------------------------------------------


def delta_cursor_keys(mailbox: str) -> tuple[str, str]:
    return make_key(mailbox, what="mailbox"), DELTA_ROW


def delta_cursor_entity(cursor: DeltaCursor) -> Entity:
    partition, row = delta_cursor_keys(cursor.mailbox)
    entity: Entity = {
        "PartitionKey": partition,
        "RowKey": row,
        "mailbox": cursor.mailbox,
        "delta_link": cursor.delta_link,
        "window_start": to_utc(cursor.window_start, what="window_start"),
        "window_end": to_utc(cursor.window_end, what="window_end"),
        "updated_at": to_utc(cursor.updated_at, what="updated_at"),
    }
    check_entity(entity, what=f"delta cursor of {cursor.mailbox!r}")
    return entity


def delta_cursor_from_entity(entity: Mapping[str, Any], etag: str) -> DeltaCursor:
    return DeltaCursor(
        mailbox=entity["mailbox"],
        delta_link=entity["delta_link"],
        window_start=from_table_datetime(entity["window_start"]),
        window_end=from_table_datetime(entity["window_end"]),
        updated_at=from_table_datetime(entity["updated_at"]),
        etag=etag,
    )


def erp_cursor_keys(user_id: str, feed: str) -> tuple[str, str]:
    return make_key(user_id, what="user id"), make_key(ERP_ROW, feed, what="ERP feed")


def erp_cursor_entity(cursor: ErpCursor) -> Entity:
    partition, row = erp_cursor_keys(cursor.user_id, cursor.feed)
    entity: Entity = {
        "PartitionKey": partition,
        "RowKey": row,
        "user_id": cursor.user_id,
        "feed": cursor.feed,
        "cursor": cursor.cursor,
        "updated_at": to_utc(cursor.updated_at, what="updated_at"),
    }
    check_entity(entity, what=f"ERP cursor {cursor.feed!r} of {cursor.user_id!r}")
    return entity


def erp_cursor_from_entity(entity: Mapping[str, Any], etag: str) -> ErpCursor:
    return ErpCursor(
        user_id=entity["user_id"],
        feed=entity["feed"],
        cursor=entity["cursor"],
        updated_at=from_table_datetime(entity["updated_at"]),
        etag=etag,
    )


# --- subscriptions and leases ----------------------------------------------------------------------


def subscription_keys(subscription_id: str) -> tuple[str, str]:
    return SUBSCRIPTION_PARTITION, make_key(subscription_id, what="subscription id")


def subscription_entity(record: SubscriptionRecord) -> Entity:
    partition, row = subscription_keys(record.subscription_id)
    entity: Entity = {
        "PartitionKey": partition,
        "RowKey": row,
        "subscription_id": record.subscription_id,
        "user_id": record.user_id,
        "mailbox": record.mailbox,
        "resource": record.resource,
        "expires_at": to_utc(record.expires_at, what="expires_at"),
        "created_at": to_utc(record.created_at, what="created_at"),
    }
    check_entity(entity, what=f"subscription {record.subscription_id!r}")
    return entity


def subscription_from_entity(entity: Mapping[str, Any], etag: str) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_id=entity["subscription_id"],
        user_id=entity["user_id"],
        mailbox=entity["mailbox"],
        resource=entity["resource"],
        expires_at=from_table_datetime(entity["expires_at"]),
        created_at=from_table_datetime(entity["created_at"]),
        etag=etag,
    )


def lease_keys(user_id: str) -> tuple[str, str]:
    return LEASE_PARTITION, make_key(user_id, what="user id")


def lease_entity(lease: Lease) -> Entity:
    partition, row = lease_keys(lease.user_id)
    entity: Entity = {
        "PartitionKey": partition,
        "RowKey": row,
        "user_id": lease.user_id,
        "owner": lease.owner,
        "expires_at": to_utc(lease.expires_at, what="expires_at"),
    }
    check_entity(entity, what=f"lease of {lease.user_id!r}")
    return entity


def lease_from_entity(entity: Mapping[str, Any], etag: str) -> Lease:
    return Lease(
        user_id=entity["user_id"],
        owner=entity["owner"],
        expires_at=from_table_datetime(entity["expires_at"]),
        etag=etag,
    )
