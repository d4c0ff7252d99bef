"""R29 (pure): which ERP activities the daily close job closes.

An activity is closed once it has ended when the sync created it from an M365 event (it has an ``origin``).
Never closed: activities people created in the ERP, ones not ended yet (end after the job's now, read in the
activity's own zone: an all-day one ends at midnight after its last day there), ones another user owns (their
own pass closes them) and read-only ones (released, closed, voided): closing is done once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.core.activities import Activity, ActivityChange
from shared.core.mapping import item_from_activity


def why_not_close(activity: Activity, *, owner_id: str, now: datetime) -> str | None:
    """The reason the activity stays open, or None when the close job closes it (R29)."""
    checks: list[tuple[bool, str]] = [
        (activity.origin is None, "created in the ERP"),
        (activity.owner_id != owner_id, "owned by another user"),
        (activity.read_only, f"{activity.state.value} already"),
        (item_from_activity(activity).end > now, "not ended yet"),
    ]
    return next((reason for failed, reason in checks if failed), None)


def to_close(changes: Iterable[ActivityChange], *, owner_id: str, now: datetime) -> list[Activity]:
    """The owner's activities among ``changes`` (a feed snapshot) that the job closes, oldest end first."""
    found = {
        c.activity_id: c.activity
        for c in changes
        if c.activity is not None and not c.deleted and why_not_close(c.activity, owner_id=owner_id, now=now) is None
    }
    return sorted(found.values(), key=lambda a: (item_from_activity(a).end, a.id))
