"""R18's own convergence machine: people attach, replace and remove files on either side while runs fail.

The big machine (``machine.py``) has file rules among forty others, so it reaches a file only now and then; this
one does little else. On the in-process fakes (``FakeWorld``): Ann's "attachment file sync" setting is on, Bob's
off. People make items in Outlook and in the ERP, attach files (some past Graph's 3 MB single-request limit, so
the sync uploads them through a session), remove them, on either side; runs meet Graph 503/429 on attachment
requests, an ERP that applies a file's upload but whose answer is lost, and a host dying at a link's save. Once
every run caught up: each item's files are what people left (by content hash: none lost, none twice), both
sides equal for Ann's Outlook items, the ERP's own for her ERP items (the ERP owns those, R20/R21), and each
side its own for Bob; one more round writes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from emulators.fakes.stack import ErpTrap, SimulatedCrash, StateCrash
from shared.errors import ErpTransient, GraphTransient
from tests.convergence.people_files import outlook_files
from tests.convergence.statistics import statistic
from tests.convergence.world import PEOPLE, SEEDED_IDS, FakeWorld

MB = 1024 * 1024
EXAMPLES = 300
STEPS = 16
OWNERS = ("ann", "bob")
SYNCS_FILES = "ann"
# Each file's bytes are its own (40 bytes carry more than a hash's worth of its serial), so the model tells them
# apart; the last size is past 3 MB: an upload session ERP → Outlook.
sizes = st.sampled_from([40, 900, 40_000, 3 * MB + 5])
picks = st.integers(0, 1000)


@dataclass
class Item:
    """One item as people left it: its owner, where it was born, and its files by content hash."""

    owner: str
    origin: str  # "m365" or "erp"
    event_id: str | None = None
    activity_id: str | None = None
    both: set[str] = field(default_factory=set)
    erp_only: set[str] = field(default_factory=set)
    outlook_only: set[str] = field(default_factory=set)

    @property
    def syncs(self) -> bool:
        return self.owner == SYNCS_FILES


class FilesConverge(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = FakeWorld()
        store = self.world.store
        ann = store.get_user(PEOPLE[SYNCS_FILES].user_id)
        store.put_user(ann.model_copy(update={"sync_attachments": True}))
        self.items: list[Item] = []
        self.serial = 0

    def teardown(self) -> None:
        try:
            self._quiesce_and_check()
        finally:
            self.world.close()

    # --- items ---

    @rule(owner=st.sampled_from(OWNERS), day=st.integers(1, 20))
    def outlook_item(self, owner: str, day: int) -> None:
        """A person makes a meeting in Outlook (it becomes an ERP activity)."""
        start, end = self.world.when(day, 9, 30)
        body = {
            "subject": f"Visit {len(self.items)}",
            "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        }
        made = self.world.run(self.world.outlook(PEOPLE[owner].mailbox, "POST", "/events", json=body)).json()
        self.items.append(Item(owner, "m365", event_id=made["id"]))

    @rule(owner=st.sampled_from(OWNERS), day=st.integers(1, 20))
    def erp_item(self, owner: str, day: int) -> None:
        """A person books a meeting in the ERP (it becomes an Outlook event)."""
        start, end = self.world.when(day, 13, 30)
        body = {
            "type": "meeting",
            "subject": f"Review {len(self.items)}",
            "start": start.replace(tzinfo=None).isoformat(),
            "end": end.replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
            "ownerId": PEOPLE[owner].user_id,
            "state": "confirmed",
        }
        key = {"Idempotency-Key": f"person-{uuid.uuid4()}"}
        made = self.world.run(self.world.erp_call("POST", "/activities", json=body, headers=key)).json()
        self.items.append(Item(owner, "erp", activity_id=made["id"]))

    # --- files ---

    def _file(self, size: int) -> tuple[str, bytes]:
        self.serial += 1
        seed = hashlib.sha256(f"file {self.serial}".encode()).digest()
        return f"f{self.serial}.bin", (seed * (size // 32 + 1))[:size]

    def _event(self, item: Item) -> str | None:
        if item.event_id is None and item.activity_id is not None:
            link = self.world.run(self.world.state.link_by_activity(PEOPLE[item.owner].user_id, item.activity_id))
            item.event_id = link.event_id if link is not None else None
        return item.event_id

    def _activity(self, item: Item) -> str | None:
        if item.activity_id is None and item.event_id is not None:
            link = self.world.run(self.world.state.link_by_event(PEOPLE[item.owner].user_id, item.event_id))
            item.activity_id = link.activity_id if link is not None else None
        return item.activity_id

    @precondition(lambda self: self.items)
    @rule(pick=picks, size=sizes)
    def attach_in_outlook(self, pick: int, size: int) -> None:
        """The owner attaches a file to the event in Outlook (below 3 MB: one request, as Outlook does)."""
        item = self.items[pick % len(self.items)]
        event_id = self._event(item)
        if event_id is None or size >= 3 * MB:
            return
        name, data = self._file(size)
        body = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": name,
            "contentType": "application/octet-stream",
            "contentBytes": base64.b64encode(data).decode(),
        }
        self.world.run(
            self.world.outlook(PEOPLE[item.owner].mailbox, "POST", f"/events/{event_id}/attachments", json=body)
        )
        digest = hashlib.sha256(data).hexdigest()
        (item.both if item.syncs and item.origin == "m365" else item.outlook_only).add(digest)

    @precondition(lambda self: self.items)
    @rule(pick=picks, size=sizes)
    def attach_in_erp(self, pick: int, size: int) -> None:
        """A person attaches a file to the activity in the ERP."""
        item = self.items[pick % len(self.items)]
        activity_id = self._activity(item)
        if activity_id is None:
            return
        name, data = self._file(size)
        headers = {"Content-Type": "application/octet-stream", "Idempotency-Key": f"person-{name}"}
        path = f"/activities/{activity_id}/attachments"
        self.world.run(self.world.erp_call("POST", path, params={"name": name}, content=data, headers=headers))
        digest = hashlib.sha256(data).hexdigest()
        (item.both if item.syncs else item.erp_only).add(digest)

    @precondition(lambda self: self.items)
    @rule(pick=picks, which=picks)
    def remove_in_outlook(self, pick: int, which: int) -> None:
        """The owner removes one of the event's files (an ERP item's synced file will come back)."""
        item = self.items[pick % len(self.items)]
        event_id, mailbox = self._event(item), PEOPLE[item.owner].mailbox
        if event_id is None:
            return
        listed = self.world.run(outlook_files(self.world, mailbox, event_id))
        if not listed:
            return
        file_id, digest = sorted(listed.items())[which % len(listed)]
        self.world.run(self.world.outlook(mailbox, "DELETE", f"/events/{event_id}/attachments/{file_id}"))
        item.outlook_only.discard(digest)
        if item.syncs and item.origin == "m365":
            item.both.discard(digest)

    @precondition(lambda self: self.items)
    @rule(pick=picks, which=picks)
    def remove_in_erp(self, pick: int, which: int) -> None:
        """A person removes one of the activity's files in the ERP."""
        item = self.items[pick % len(self.items)]
        activity_id = self._activity(item)
        if activity_id is None:
            return
        files = sorted(self.world.store.get_activity(activity_id).attachments, key=lambda f: f.id)
        if not files:
            return
        chosen = files[which % len(files)]
        self.world.run(self.world.erp_call("DELETE", f"/activities/{activity_id}/attachments/{chosen.id}"))
        item.both.discard(chosen.sha256)
        item.erp_only.discard(chosen.sha256)

    # --- the service ---

    @rule(who=st.sampled_from(OWNERS))
    def sync_runs(self, who: str) -> None:
        report = self.world.run(self.world.engine.sync_user(PEOPLE[who].user_id))
        assert report.status == "ok", report.summary()

    @precondition(lambda self: self.items)
    @rule(
        pick=picks,
        size=sizes,
        in_erp=st.booleans(),
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
        status=st.sampled_from([503, 429]),
        count=st.integers(1, 5),
    )
    def file_sync_meets_graph_fault(
        self, pick: int, size: int, in_erp: bool, method: str, status: int, count: int
    ) -> None:
        """A file is attached on one side, then Graph answers the run's attachment requests (upload ranges
        included) 503/429 ``count`` times."""
        item = self._attach(pick, size, in_erp)
        path = r"/attachments|/api/v2\.0/"
        self.world.run(self.world.graph_fault(status=status, count=count, method=method, path=path))
        self._faulty_sync(item.owner)

    @precondition(lambda self: self.items)
    @rule(pick=picks, size=sizes, skip=st.integers(0, 1), lost=st.booleans())
    def file_sync_meets_erp_trap(self, pick: int, size: int, skip: int, lost: bool) -> None:
        """An Outlook file is attached, then the ERP fails its upload; ``lost``: the ERP stored the file and the
        answer never came (R10: no duplicate)."""
        item = self._attach(pick, size, in_erp=False)
        self.world.erp_trap(ErpTrap(method="POST", path=r"/attachments$", skip=skip, count=1, lost=lost))
        self._faulty_sync(item.owner)

    @precondition(lambda self: self.items)
    @rule(pick=picks, size=sizes, in_erp=st.booleans(), skip=st.integers(0, 3), after=st.booleans())
    def host_dies_at_a_links_save(self, pick: int, size: int, in_erp: bool, skip: int, after: bool) -> None:
        """A file is attached, then the host dies as a link is saved (e.g. after a copy, before its pair)."""
        item = self._attach(pick, size, in_erp)
        self.world.state_crash(StateCrash(method="save_link", skip=skip, after=after))
        self._faulty_sync(item.owner)

    def _attach(self, pick: int, size: int, in_erp: bool) -> Item:
        if in_erp:
            self.attach_in_erp(pick, size)
        else:
            self.attach_in_outlook(pick, size)
        return self.items[pick % len(self.items)]

    def _faulty_sync(self, who: str) -> None:
        try:
            self.world.run(self.world.engine.sync_user(PEOPLE[who].user_id))
        except (ErpTransient, GraphTransient, SimulatedCrash) as error:
            statistic(f"run gave up: {type(error).__name__}")  # the next run sees it all again
        finally:
            self.world.run(self.world.clear_faults())
            self.world.sprung()

    @rule()
    def everyone_syncs_until_quiet(self) -> None:
        self._quiesce_and_check()

    # --- the check ---

    def _quiesce_and_check(self) -> None:
        for _ in range(6):
            reports = [self.world.run(self.world.engine.sync_user(PEOPLE[p].user_id)) for p in OWNERS]
            assert all(r.status == "ok" for r in reports), [r.summary() for r in reports]
            if not any(sum(r.done.values()) for r in reports):
                break
        else:
            raise AssertionError("still writing after 6 rounds (ping-pong?)")
        for number, item in enumerate(self.items):
            event_id, activity_id = self._event(item), self._activity(item)
            assert event_id is not None, f"item {number} has no event"
            assert activity_id is not None, f"item {number} has no activity"
            on_activity = sorted(f.sha256 for f in self.world.store.get_activity(activity_id).attachments)
            listed = self.world.run(outlook_files(self.world, PEOPLE[item.owner].mailbox, event_id))
            assert on_activity == sorted(item.both | item.erp_only), f"item {number}: activity files (R18)"
            assert sorted(listed.values()) == sorted(item.both | item.outlook_only), f"item {number}: event files"
            statistic("an item checked with files synced" if item.both else "an item checked")
        for who in OWNERS:
            quiet = self.world.run(self.world.engine.sync_user(PEOPLE[who].user_id))
            assert sum(quiet.done.values()) == 0, f"a quiet run wrote (R5): {quiet.summary()}"


@pytest.fixture
def quiet_files_machine(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded ids (an example replays exactly) and no kept issue warnings, as for the big machine."""
    SEEDED_IDS.install(monkeypatch)
    caplog.set_level(logging.ERROR, logger="shared")


@pytest.mark.usefixtures("quiet_files_machine")
def test_files_converge_on_the_fakes() -> None:
    """R18 (issue 14): whatever files people added, replaced or removed on either side, and however runs failed
    (Graph 503/429 on attachment requests and upload ranges, an upload the ERP stored but whose answer was lost,
    a host dying at a link's save), caught-up syncs leave each item's files as people left them: the same bytes
    on both sides of Ann's items, nothing duplicated or lost, and Bob's files where he put them."""
    run_state_machine_as_test(
        FilesConverge,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.usefixtures("quiet_files_machine")
def test_a_file_the_erp_stored_without_answering_then_a_person_removed_leaves_outlook_too() -> None:
    """R18/R10 (found by a random run, 2026-12-03): Ann's Outlook file goes to the ERP, which stores it but whose
    answer is lost; a person then removes it in the ERP. The next run's upload (same Idempotency-Key) is answered
    with that first file, no longer on the activity: the pair is known and its removal reaches Outlook, instead
    of a pair naming a file nobody has and the Outlook copy staying for good."""
    machine = FilesConverge()
    machine.outlook_item(day=1, owner="ann")
    machine.file_sync_meets_erp_trap(lost=True, pick=0, size=40, skip=0)
    machine.remove_in_erp(pick=0, which=0)
    machine.teardown()  # every sync caught up, then the check
