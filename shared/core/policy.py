"""The tenant's sync policy as data (R1, R3, R4, R6, R7, R8, R11, R17, R20-R26).

Rules an admin may change live here as values, never as conditions spread through the code.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.core.items import Field, ItemKind, Side


class Direction(StrEnum):
    BOTH = "both"
    ERP_TO_M365 = "erp_to_m365"
    M365_TO_ERP = "m365_to_erp"

    def writes_to(self, side: Side) -> bool:
        if self is Direction.BOTH:
            return True
        return (side is Side.M365) == (self is Direction.ERP_TO_M365)


class PrivateEvents(StrEnum):
    SKIP = "skip"
    SYNC_AS_BUSY = "busy"
    SYNC = "sync"


ALL_FIELDS: frozenset[Field] = frozenset(Field)
# Fields Graph does not let the organizer write: attendees' answers come from their own mail systems (R27).
NEVER_WRITTEN_TO_M365: frozenset[Field] = frozenset({Field.RESPONSES})

# R20-R22: which fields an M365 edit may change in the ERP, per activity type and origin.
# Items created in M365 are owned by M365 for every field; ERP-created tasks and phone calls only
# take start/end back (R20); ERP-created meetings take times and attendees back (R21).
DEFAULT_M365_OWNED_FIELDS: dict[ItemKind, frozenset[Field]] = {
    ItemKind.MEETING: frozenset(
        {
            Field.WHEN,
            Field.ATTENDEES,
            Field.RESPONSES,
            Field.LOCATION,
            Field.CATEGORIES,
            Field.SHOW_AS,
            Field.SENSITIVITY,
        }
    ),
    ItemKind.PHONE_CALL: frozenset({Field.WHEN}),
    ItemKind.TASK: frozenset({Field.WHEN}),
    ItemKind.LEAVE: frozenset(),
}

# R8: does deleting the event void the ERP record, per type?
DEFAULT_VOID_ON_EVENT_DELETE: dict[ItemKind, bool] = {
    ItemKind.MEETING: True,
    ItemKind.PHONE_CALL: False,
    ItemKind.TASK: False,
    ItemKind.LEAVE: False,
}


class SyncPolicy(BaseModel):
    """Decisions the planner takes from configuration rather than code."""

    model_config = ConfigDict(frozen=True)

    direction: Direction = Direction.BOTH
    direction_overrides: dict[str, Direction] = {}
    activity_kinds: frozenset[ItemKind] = frozenset({ItemKind.MEETING, ItemKind.PHONE_CALL, ItemKind.TASK})
    leave_requests: bool = False
    # R30: leave events are private unless the tenant says otherwise.
    leave_private: bool = True
    window_days: int = 31
    erp_lookback_hours: int = 24
    clock_skew_seconds: float = 2.0
    conflict_category: str = "Sync conflict"
    include_categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    private_events: PrivateEvents = PrivateEvents.SKIP
    internal_domains: frozenset[str] = frozenset()
    skip_internal_only: bool = True
    mass_delete_ratio: float = 0.5
    mass_delete_minimum: int = 5
    m365_owned_fields_for_erp_items: dict[ItemKind, frozenset[Field]] = DEFAULT_M365_OWNED_FIELDS
    void_on_event_delete: dict[ItemKind, bool] = DEFAULT_VOID_ON_EVENT_DELETE
    # R18 with R20/R21: kinds of ERP-created items whose files an Outlook edit may change in the ERP. By default
    # none: the ERP owns an ERP item's files (a file removed in Outlook is put back; one added there stays there).
    m365_files_for_erp_items: frozenset[ItemKind] = frozenset()

    def direction_for(self, *user_keys: str) -> Direction:
        """R1: the tenant direction unless the user (mailbox address or ERP id) has an override."""
        for key in user_keys:
            if key.lower() in self.direction_overrides:
                return self.direction_overrides[key.lower()]
        return self.direction

    def fields_m365_may_change(self, kind: ItemKind, origin: Side) -> frozenset[Field]:
        if origin is Side.M365:
            return ALL_FIELDS
        return self.m365_owned_fields_for_erp_items.get(kind, frozenset())
