"""R18 end to end: files on a synced meeting travel both ways through the real adapters (msgraph-sdk against the
Graph emulator, HttpErp against the reference ERP, links in Azurite), only for a person whose setting is on."""

from __future__ import annotations

import pytest

from emulators.file_person import MB, FilePerson, content, sha256, synced_meeting
from shared.state.model import IssueKind
from tests.sync.conftest import Stack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"


async def _synced_meeting(stack: Stack, *, sync_attachments: bool = True) -> FilePerson:
    """Ann (with her attachment setting as given) and one meeting she made in Outlook, synced once."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", sync_attachments=sync_attachments)
    person = FilePerson(outlook=stack.graph, graph_app=stack.graph_app, erp_app=stack.erp_app, mailbox=MAILBOX)
    await synced_meeting(person, stack.services, USER)
    return person


async def _sync_until_quiet(stack: Stack) -> list[dict[str, int]]:
    """Ann's sync until a run writes nothing; each run's counts (the quiet one last)."""
    done = []
    for _ in range(4):
        report = await stack.services.engine.sync_user(USER)
        assert report.status == "ok", report.summary()
        done.append(dict(report.done))
        if not sum(report.done.values()):
            return done
    raise AssertionError(f"no quiet run: {done}")


@pytest.mark.integration
async def test_files_attached_in_outlook_and_in_the_erp_arrive_with_the_same_bytes(stack: Stack) -> None:
    """R18 (issue 14, done when): a 1 MB and a 10 MB file attached in Outlook reach the ERP activity with the same
    bytes (the 10 MB one came in through an upload session), a 4 MB file added to the ERP activity appears on the
    event (the sync's own upload session, page "Attach large files to Outlook messages or events"); each is copied
    once, and the run after writes nothing (the copies' echoes are no change)."""
    person = await _synced_meeting(stack)
    small, big, back = content(1 * MB, "small"), content(10 * MB, "big"), content(4 * MB, "back")
    await person.attach_in_outlook("small.pdf", small)
    await person.attach_in_outlook("big.pdf", big)
    await person.attach_in_erp("back.pdf", back)

    runs = await _sync_until_quiet(stack)

    assert runs[0].get("erp file added") == 2
    assert runs[0].get("m365 file added") == 1
    assert len(runs) == 2, runs  # one run copies, the next is quiet
    want = {"small.pdf": sha256(small), "big.pdf": sha256(big), "back.pdf": sha256(back)}
    assert await person.erp_files() == want
    assert await person.outlook_files() == want


@pytest.mark.integration
async def test_with_the_setting_off_no_file_moves(stack: Stack) -> None:
    """R18: the setting is off by default: files stay on the side they were put on, and nothing is counted."""
    person = await _synced_meeting(stack, sync_attachments=False)
    await person.attach_in_outlook("small.pdf", content(MB, "small"))
    await person.attach_in_erp("back.pdf", content(MB, "back"))

    runs = await _sync_until_quiet(stack)

    assert all("file" not in what for run in runs for what in run)
    assert list(await person.erp_files()) == ["back.pdf"]
    assert list(await person.outlook_files()) == ["small.pdf"]


@pytest.mark.integration
async def test_files_removed_or_replaced_on_either_side_leave_the_other(stack: Stack) -> None:
    """R18: a file removed in Outlook leaves the ERP activity; one removed in the ERP leaves the event; a file
    replaced in Outlook (removed, a new one attached) is replaced in the ERP."""
    person = await _synced_meeting(stack)
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        await person.attach_in_outlook(name, content(100_000, name))
    await _sync_until_quiet(stack)

    await person.remove_in_outlook("a.pdf")
    await person.remove_in_erp("b.pdf")
    await person.remove_in_outlook("c.pdf")
    await person.attach_in_outlook("c2.pdf", content(100_000, "c2"))
    runs = await _sync_until_quiet(stack)

    assert runs[0].get("erp file removed") == 2
    assert runs[0].get("m365 file removed") == 1
    assert runs[0].get("erp file added") == 1
    want = {"c2.pdf": sha256(content(100_000, "c2"))}
    assert await person.erp_files() == want
    assert await person.outlook_files() == want


@pytest.mark.integration
async def test_the_same_file_on_both_sides_without_a_pair_is_paired_not_copied(stack: Stack) -> None:
    """R10/R18: a host died after copying a file but before saving the link: the next run finds the same bytes on
    both sides and pairs them; no duplicate on either side."""
    person = await _synced_meeting(stack)
    data = content(300_000, "same")
    await person.attach_in_outlook("same.pdf", data)
    await person.attach_in_erp("same.pdf", data)

    runs = await _sync_until_quiet(stack)

    assert all("file" not in what for run in runs for what in run), runs
    assert await person.erp_files() == {"same.pdf": sha256(data)}
    assert await person.outlook_files() == {"same.pdf": sha256(data)}
    link = await stack.services.state.link_by_event(USER, person.event_id)
    assert link is not None
    assert [p.name for p in link.attachments] == ["same.pdf"]


@pytest.mark.integration
async def test_a_file_larger_than_the_erp_takes_is_an_issue_until_it_goes(stack: Stack) -> None:
    """R18/R31: a file over the ERP's declared limit is not copied, and the admin sees an issue naming it; once
    the person removes it, the issue closes. Nothing else on the meeting is held up."""
    stack.erp_app.state.store.max_attachment_bytes = 5 * MB
    person = await _synced_meeting(stack)
    await person.attach_in_outlook("huge.pdf", content(6 * MB, "huge"))
    await person.attach_in_outlook("fine.pdf", content(MB, "fine"))

    report = await stack.services.engine.sync_user(USER)

    assert report.done.get("erp file added") == 1
    issues = [i for i in await stack.services.state.open_issues(USER) if i.kind is IssueKind.REFUSED_ITEM]
    assert len(issues) == 1
    assert "huge.pdf" in issues[0].reason
    assert list(await person.erp_files()) == ["fine.pdf"]

    await person.remove_in_outlook("huge.pdf")
    await _sync_until_quiet(stack)
    assert not [i for i in await stack.services.state.open_issues(USER) if i.kind is IssueKind.REFUSED_ITEM]


@pytest.mark.integration
async def test_graphs_notification_of_the_syncs_own_file_write_is_an_echo(stack: Stack) -> None:
    """R5/R18: after the sync attached an ERP file to the event, the link holds the event's new changeKey, so
    Graph's notification of that write (its ``@odata.etag`` is the changeKey) is known as an echo and queues no
    run (``shared/handlers/echoes.py``)."""
    person = await _synced_meeting(stack)
    await person.attach_in_erp("agenda.pdf", content(50_000, "agenda"))

    report = await stack.services.engine.sync_user(USER)

    assert report.done.get("m365 file added") == 1
    event = await person.outlook("GET", f"/users/{MAILBOX}/events/{person.event_id}")
    link = await stack.services.state.link_by_event(USER, person.event_id)
    assert link is not None
    assert link.m365_change_key == event["changeKey"]
