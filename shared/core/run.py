"""What one user's run knows when it plans: the input of the decision table (``planner.plan``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.core.activities import ActivityChange, ActivityState
from shared.core.items import Side
from shared.core.links import Link
from shared.core.m365 import DeltaEntry
from shared.core.meetings import Meeting
from shared.core.policy import SyncPolicy
from shared.core.series import SeriesView


@dataclass(frozen=True, kw_only=True)
class RunInput:
    """Everything one user's run knows. Removed events were already confirmed gone by a direct read (R9)."""

    user_id: str
    mailbox: str
    policy: SyncPolicy
    now: datetime
    links: Sequence[Link]
    m365_changes: Sequence[DeltaEntry] = ()
    erp_changes: Sequence[ActivityChange] = ()
    # R4: an initial pull (first run, or after a lost delta token) never deletes anything.
    m365_initial: bool = False
    erp_initial: bool = False
    # R10: the tenant-wide claims of the meetings among this run's unlinked events, by iCalUId.
    meetings: Mapping[str, Meeting] = field(default_factory=dict)
    # R10: mailbox addresses (lower case) of the syncable users: a meeting they organise is theirs to own.
    synced_mailboxes: frozenset[str] = frozenset()
    # R11: a person released this user's halted mass deletion: the guard lets this run's removals through.
    removals_released: bool = False
    # R28: whether the ERP holds series (its capabilities), and the series this run's changes touch, by master id.
    erp_series: bool = False
    series: Mapping[str, SeriesView] = field(default_factory=dict)


@dataclass(frozen=True)
class Index:
    """The run's links by event id and by activity id."""

    by_event: dict[str, Link]
    by_activity: dict[str, Link]

    @classmethod
    def of(cls, links: Sequence[Link]) -> Index:
        return cls(
            by_event={link.event_id: link for link in links if link.event_id},
            by_activity={link.activity_id: link for link in links if link.activity_id},
        )


@dataclass(frozen=True)
class Ways:
    """R1: which sides this user's direction lets the run write to."""

    to_erp: bool
    to_m365: bool

    @classmethod
    def of(cls, run: RunInput) -> Ways:
        return cls.for_user(run.policy, run.mailbox, run.user_id)

    @classmethod
    def for_user(cls, policy: SyncPolicy, mailbox: str, user_id: str) -> Ways:
        direction = policy.direction_for(mailbox, user_id)
        return cls(to_erp=direction.writes_to(Side.ERP), to_m365=direction.writes_to(Side.M365))


def erp_gone(change: ActivityChange) -> bool:
    """Removed from the ERP, or voided there (R8): either way its event leaves the calendar."""
    return change.deleted or change.activity is None or change.activity.state is ActivityState.VOIDED
