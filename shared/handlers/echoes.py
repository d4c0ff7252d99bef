"""Echoes: Graph's notifications and the ERP's hook calls of the sync's own writes (issue 12, one run per
useful change). The ERP's hook names the version each write left; the sync's own write is the version its
link already holds.

Every event the sync creates or updates in Outlook comes back as a change notification, whose
``resourceData`` names the event and the change key of the version notified (``@odata.etag``). The link
saved right after the write holds that change key, so a notification whose event's link already has it is
the sync's own write, seen and synced: it needs no run. A deletion of an event whose link has ended is the
sync's own delete (or a late copy of one). Anything else (a person's edit has a new change key; an event
without a link; a notification without an id or key) queues a run as before: nothing is ever dropped on a
guess.

An ERP echo can arrive before its run has saved the link. While a run holds the user's lease, the hook notes
the change for it instead of queueing a follow-up (``StateStore.note_during_run``); once the run has released
the lease, the worker reads the notes and queues a follow-up only if one is not an echo (``noted_echoes_only``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from shared.core.links import LinkState
from shared.erp.hook import HookChange
from shared.graph.notifications import Notification
from shared.state.port import StateStore

# A POST with more notifications than this for one user is a burst of real work: it is not looked at.
MAX_LOOKED_AT = 4


async def only_erp_echoes(state: StateStore, user_id: str, changes: Sequence[HookChange]) -> bool:
    """Whether every change the ERP's hook reports for the user is the echo of the sync's own write: an activity
    at the version its link already holds (one index and one link read each). A change without a version (a
    deletion), a leave request, or a bigger burst than ``MAX_LOOKED_AT`` queues a run."""
    if not changes or len(changes) > MAX_LOOKED_AT:
        return False
    return all(await asyncio.gather(*(_is_erp_echo(state, user_id, change) for change in changes)))


async def _is_erp_echo(state: StateStore, user_id: str, change: HookChange) -> bool:
    if change.entity != "activity" or change.version is None:
        return False
    link = await state.link_by_activity(user_id, change.id)
    return link is not None and link.state is LinkState.ACTIVE and link.erp_version == change.version


async def only_echoes(state: StateStore, user_id: str, notes: Sequence[Notification]) -> bool:
    """Whether every one of the user's notifications is an echo of the sync's own write (two reads each)."""
    if not notes or len(notes) > MAX_LOOKED_AT:
        return False
    return all(await asyncio.gather(*(_is_echo(state, user_id, note) for note in notes)))


async def _is_echo(state: StateStore, user_id: str, note: Notification) -> bool:
    if not note.event_id:
        return False
    if note.change_type == "deleted":
        link = await state.link_by_event(user_id, note.event_id)
        return link is not None and link.state is not LinkState.ACTIVE
    if note.change_type not in ("created", "updated") or not note.change_key:
        return False
    link = await state.link_by_event(user_id, note.event_id)
    return link is not None and link.state is LinkState.ACTIVE and link.m365_change_key == note.change_key


def run_note(change: HookChange) -> str:
    """A hook change as noted for the run under way (``StateStore.note_during_run``)."""
    return f"{change.entity}|{change.version if change.version is not None else ''}|{change.id}"


async def noted_echoes_only(state: StateStore, user_id: str, notes: Sequence[str]) -> bool:
    """Whether every change noted during the user's run was that run's own write, now that its links are saved:
    the same test as the hook's (``only_erp_echoes``), on any number of notes."""
    changes = []
    for note in notes:
        entity, version, record_id = note.split("|", 2)
        if entity != "activity" or not version.isdigit():
            return False
        changes.append(HookChange(entity="activity", id=record_id, version=int(version)))
    return all(await asyncio.gather(*(_is_erp_echo(state, user_id, change) for change in changes)))
