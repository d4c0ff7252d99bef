"""R18: the decision table of one link's files (``shared/core/attachment_plan.py``), pure."""

from __future__ import annotations

import hashlib
from typing import Any

from shared.core.attachment_plan import (
    CompletePair,
    CopyToErp,
    CopyToOutlook,
    ForgetPair,
    LinkFiles,
    PairFiles,
    RefuseFile,
    RemoveFromErp,
    RemoveFromOutlook,
    after_files,
    file_ways,
    files_to_compare,
    paired,
    plan_files,
    syncs_files,
)
from shared.core.attachments import GRAPH_UPLOAD_SESSION_LIMIT, ActivityAttachment, AttachmentPair, EventAttachment
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.core.meetings import LinkRole
from shared.core.policy import Direction, SyncPolicy
from tests.core.builders import NOW, activity, event, link

MB = 1024 * 1024


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def event_file(file_id: str = "ev-f1", *, size: int = 1000, **more: Any) -> EventAttachment:
    return EventAttachment(id=file_id, name=f"{file_id}.pdf", content_type="application/pdf", size=size, **more)


def activity_file(file_id: str = "act-f1", *, size: int = 1000, content: str = "bytes") -> ActivityAttachment:
    return ActivityAttachment(
        id=file_id, name=f"{file_id}.pdf", content_type="application/pdf", size=size, sha256=sha(content)
    )


def a_link(*pairs: AttachmentPair, **overrides: Any) -> Link:
    return link(event(), activity(), **overrides).model_copy(update={"attachments": pairs})


def files(
    the_link: Link,
    events: tuple[EventAttachment, ...] = (),
    activities: tuple[ActivityAttachment, ...] = (),
    **more: Any,
) -> LinkFiles:
    values: dict[str, Any] = {"to_erp": True, "to_outlook": True, "erp_limit": 25 * MB}
    values.update(more)
    return LinkFiles(link=the_link, event_files=events, activity_files=activities, **values)


PAIR = paired(event_file(), activity_file())


def test_a_file_attached_in_outlook_is_copied_to_the_erp() -> None:
    """R18: a new file on the event and none on the activity: one copy to the ERP."""
    assert plan_files(files(a_link(), (event_file(),))) == [CopyToErp(event_file())]


def test_a_file_attached_in_the_erp_is_copied_to_outlook() -> None:
    """R18: a new file on the activity: one copy to Outlook."""
    assert plan_files(files(a_link(), (), (activity_file(),))) == [CopyToOutlook(activity_file())]


def test_files_synced_before_and_unchanged_cause_no_work() -> None:
    """R18: an unchanged file is never sent again; its echo is no change."""
    assert plan_files(files(a_link(PAIR), (event_file(),), (activity_file(),))) == []


def test_a_file_removed_in_outlook_leaves_the_erp_activity() -> None:
    """R18: the event's copy of a synced file is gone: the activity's copy is removed."""
    assert plan_files(files(a_link(PAIR), (), (activity_file(),))) == [RemoveFromErp(PAIR)]


def test_a_file_removed_in_the_erp_leaves_the_event() -> None:
    """R18: the activity's copy of a synced file is gone: the event's copy is removed."""
    assert plan_files(files(a_link(PAIR), (event_file(),), ())) == [RemoveFromOutlook(PAIR)]


def test_a_file_gone_from_both_sides_is_forgotten() -> None:
    """R18: both copies gone: the pair is dropped, nothing written."""
    assert plan_files(files(a_link(PAIR))) == [ForgetPair(PAIR)]


def test_a_replaced_file_is_one_removal_and_one_copy() -> None:
    """R18: a person replaces a file in Outlook (removes the old, attaches the new): the ERP loses the old one and
    gets the new one."""
    new = event_file("ev-f2", size=2000)
    assert plan_files(files(a_link(PAIR), (new,), (activity_file(),))) == [RemoveFromErp(PAIR), CopyToErp(new)]


def test_an_erp_items_file_removed_in_outlook_is_put_back() -> None:
    """R18 with R20/R21: the ERP owns an ERP-created item's files; Outlook's removal is undone, not copied."""
    the_link = a_link(PAIR, origin=Side.ERP, kind=ItemKind.TASK)
    to_erp, to_outlook = file_ways(SyncPolicy(), the_link, mailbox="a@contoso.example", user_id="u1")
    assert (to_erp, to_outlook) == (False, True)
    plan = plan_files(files(the_link, (), (activity_file(),), to_erp=to_erp, to_outlook=to_outlook))
    assert plan == [CopyToOutlook(activity_file(), replaces=PAIR)]


def test_a_file_added_in_outlook_to_an_erp_item_stays_in_outlook() -> None:
    """R18 with R20: a person's own file on an ERP task's event is neither copied nor removed."""
    plan = plan_files(files(a_link(), (event_file(),), (), to_erp=False))
    assert plan == []


def test_the_policy_may_let_outlook_change_an_erp_meetings_files() -> None:
    """R18: ``m365_files_for_erp_items`` is data: with meetings in it, Outlook's files reach the ERP meeting."""
    policy = SyncPolicy(m365_files_for_erp_items=frozenset({ItemKind.MEETING}))
    assert file_ways(policy, a_link(origin=Side.ERP), mailbox="a@x", user_id="u1") == (True, True)


def test_a_one_way_direction_copies_files_one_way_only() -> None:
    """R1 and R18: with erp_to_m365 an Outlook file stays in Outlook and a removed ERP file leaves Outlook."""
    policy = SyncPolicy(direction=Direction.ERP_TO_M365)
    assert file_ways(policy, a_link(), mailbox="a@x", user_id="u1") == (False, True)


def test_the_same_bytes_on_both_sides_without_a_pair_are_paired_not_copied() -> None:
    """R10/R18: a crash after a copy but before the link was saved: the hash shows one file, so no duplicate."""
    ev, act = event_file(), activity_file()
    lf = files(a_link(), (ev,), (act,))
    assert files_to_compare(lf) == (ev,)
    hashed = files(a_link(), (ev,), (act,), event_hashes={ev.id: act.sha256})
    assert plan_files(hashed) == [PairFiles(ev, act)]


def test_the_same_bytes_attached_twice_are_two_files_paired_one_by_one() -> None:
    """R18: two attachments with equal bytes on each side (a person attached a file twice; a crash lost the
    pairs): each event file pairs with its own activity file; none is copied again."""
    ev1, ev2 = event_file("ev-1"), event_file("ev-2")
    act1, act2 = activity_file("act-1"), activity_file("act-2")
    lf = files(a_link(), (ev1, ev2), (act1, act2), event_hashes={ev1.id: act1.sha256, ev2.id: act1.sha256})
    assert plan_files(lf) == [PairFiles(ev1, act1), PairFiles(ev2, act2)]


def test_same_size_but_other_bytes_are_two_files() -> None:
    """R18: equal sizes are only a reason to compare; different hashes copy both ways."""
    ev, act = event_file(), activity_file()
    lf = files(a_link(), (ev,), (act,), event_hashes={ev.id: sha("other bytes")})
    assert plan_files(lf) == [CopyToErp(ev), CopyToOutlook(act)]


def test_only_files_of_a_size_found_on_the_other_side_are_read_to_compare() -> None:
    """R18: no bytes are read for a file no activity file could equal."""
    lf = files(a_link(), (event_file(size=5), event_file("ev-f2", size=7)), (activity_file(size=7),))
    assert [f.id for f in files_to_compare(lf)] == ["ev-f2"]


def test_a_file_bigger_than_the_erp_takes_is_refused_for_the_admin() -> None:
    """R18/R31: past the ERP's declared limit: a refusal (an issue), never a silent drop."""
    big = event_file(size=30 * MB)
    assert plan_files(files(a_link(), (big,))) == [RefuseFile(Side.ERP, big.id, big.name, big.size, 25 * MB)]


def test_a_file_bigger_than_graph_takes_is_refused_for_the_admin() -> None:
    """R18/R31: past Graph's 150 MB upload-session limit (page "Attach large files to Outlook messages")."""
    huge = activity_file(size=GRAPH_UPLOAD_SESSION_LIMIT + 1)
    (refusal,) = plan_files(files(a_link(), (), (huge,)))
    assert isinstance(refusal, RefuseFile)
    assert refusal.to is Side.M365


def test_inline_pictures_stay_where_they_are() -> None:
    """R18: an inline file (a picture in the body) is not a file of the meeting."""
    assert plan_files(files(a_link(), (event_file(is_inline=True),))) == []


def test_files_sync_on_the_owners_link_of_a_single_event_or_series_only() -> None:
    """R18/R10/R28: not on an attendee's copy, an occurrence, a leave item or a retired link."""
    assert syncs_files(a_link())
    assert not syncs_files(a_link(role=LinkRole.COPY))
    assert not syncs_files(a_link(original_start=NOW))
    assert not syncs_files(a_link(state=LinkState.RETIRED))


def test_the_link_records_the_version_its_own_file_writes_made() -> None:
    """R5: the activity went 3 → 4 → 5 by the sync's own two writes: the link records 5, so the ERP's hooks for
    them are echoes."""
    after = after_files(a_link(erp_version=3), [PAIR], seen_version=3, versions=[4, 5], now=NOW)
    assert after.erp_version == 5
    assert after.attachments == (PAIR,)


def test_someone_elses_change_between_the_writes_is_not_hidden() -> None:
    """R5: a version gap (3 → 5 after one write) means another writer: the link keeps the version the run read."""
    after = after_files(a_link(erp_version=3), [PAIR], seen_version=3, versions=[5], now=NOW)
    assert after.erp_version == 3


def test_nothing_changed_means_nothing_to_store() -> None:
    """R18: the same pairs and version: the very same link (no storage write)."""
    the_link = a_link(PAIR)
    assert after_files(the_link, [PAIR], seen_version=the_link.erp_version, versions=[], now=NOW) is the_link


def _pending(to: Side) -> AttachmentPair:
    return PAIR.model_copy(
        update={"event_attachment_id": None} if to is Side.M365 else {"activity_attachment_id": None}
    )


def test_a_copy_to_outlook_that_landed_before_a_crash_is_completed_then_follows_the_erp() -> None:
    """R10/R18: the run died after copying an ERP file to Outlook but before learning the copy's id; meanwhile
    the file was removed in the ERP. The copy is recognised by its hash and removed, not copied back as new."""
    pending, ev = _pending(Side.M365), event_file()
    lf = files(a_link(pending), (ev,), (), event_hashes={ev.id: PAIR.sha256})
    assert files_to_compare(lf) == (ev,)
    assert plan_files(lf) == [CompletePair(pending, PAIR), RemoveFromOutlook(PAIR)]


def test_a_copy_to_outlook_that_never_landed_is_sent_again() -> None:
    """R18: the run died before its copy reached Outlook: the pending pair is dropped and the file copied anew."""
    pending = _pending(Side.M365)
    assert plan_files(files(a_link(pending), (), (activity_file(),))) == [
        ForgetPair(pending),
        CopyToOutlook(activity_file()),
    ]


def test_a_copy_to_the_erp_that_landed_before_a_crash_follows_a_removal_in_outlook() -> None:
    """R10/R18: the run died after the ERP stored an Outlook file; the person then removed it in Outlook. The
    ERP's copy (same hash) is completed into the pair and removed."""
    pending = _pending(Side.ERP)
    assert plan_files(files(a_link(pending), (), (activity_file(),))) == [
        CompletePair(pending, PAIR),
        RemoveFromErp(PAIR),
    ]


def test_the_link_records_the_events_change_key_after_the_syncs_own_file_writes() -> None:
    """R5/R18: Graph's notification of the sync's own file write carries the event's new changeKey; the link holds
    it, so the webhook knows the notification for an echo."""
    the_link = a_link(PAIR)
    after = after_files(the_link, [PAIR], seen_version=the_link.erp_version, versions=[], now=NOW, change_key="ck2")
    assert after.m365_change_key == "ck2"
    assert after_files(after, [PAIR], seen_version=after.erp_version, versions=[], now=NOW, change_key="ck2") is after
