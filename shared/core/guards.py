"""Guards the planner applies before writing: the filters that keep an event out of the ERP (R1, R3, R24-R27)
and the mass-deletion halt (R11)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.core.actions import Action, DeleteEvent, DetachLink, VoidActivity
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.core.m365 import M365Event
from shared.core.policy import PrivateEvents, SyncPolicy

REMOVALS = (VoidActivity, DetachLink, DeleteEvent)


def why_not_create_activity(
    policy: SyncPolicy, event: M365Event, *, to_erp: bool, own_answer_counts: bool = True
) -> str | None:
    """The rule that keeps this event out of the ERP, or None when it becomes an activity.

    ``own_answer_counts`` is False for another person's copy of a meeting: their decline is their answer
    (R27), not a reason to keep the meeting out.
    """
    categories = {c.lower() for c in event.categories}
    attendee_domains = {a.email.rsplit("@", 1)[-1].lower() for a in event.attendees}
    checks: list[tuple[bool, str]] = [
        (not to_erp, "direction does not write to the ERP (R1)"),
        (ItemKind.MEETING not in policy.activity_kinds, "meetings are not a synced activity type (R3)"),
        (event.is_cancelled, "cancelled"),
        (own_answer_counts and event.response == "declined", "declined by the user (R27)"),
        (event.sensitivity != "normal" and policy.private_events is PrivateEvents.SKIP, "private event (R25)"),
        (bool(categories & {c.lower() for c in policy.exclude_categories}), "excluded category (R24)"),
        (
            bool(policy.include_categories) and not categories & {c.lower() for c in policy.include_categories},
            "not in an included category (R24)",
        ),
        (
            policy.skip_internal_only
            and bool(policy.internal_domains)
            and bool(attendee_domains)
            and attendee_domains <= policy.internal_domains,
            "internal-only meeting (R26)",
        ),
    ]
    return next((reason for failed, reason in checks if failed), None)


def mass_delete_check(policy: SyncPolicy, links: Sequence[Link], actions: Sequence[Action]) -> str | None:
    """R11: most of a user's linked items reported gone at once is an accident until a person says otherwise."""
    active = sum(1 for link in links if link.state is LinkState.ACTIVE)
    for side in Side:
        removals = sum(1 for a in actions if isinstance(a, REMOVALS) and a.vanished_on is side)
        if removals >= policy.mass_delete_minimum and active and removals / active > policy.mass_delete_ratio:
            return f"{side.value} reported {removals} of {active} linked items gone at once (R11)"
    return None
