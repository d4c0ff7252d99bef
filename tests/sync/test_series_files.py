"""R18 with R28: a series' files belong to the series — its master event and its one series activity — on the
fakes. Graph keeps a series' attachments on the master (page "Add attachment": ``/events/{master id}``)."""

from __future__ import annotations

import base64
import hashlib

from emulators.fakes.stack import FakeStack
from tests.sync.series_helpers import (
    MAILBOX,
    USER,
    activities,
    erp_series,
    fake_stack,
    masters,
    outlook_series,
    sync,
    writes,
)

DATA = b"minutes of the kick-off " * 100


def _files_on(stack: FakeStack) -> None:
    store = stack.erp_app.state.store
    store.put_user(store.get_user(USER).model_copy(update={"sync_attachments": True}))


async def _master_files(stack: FakeStack, master_id: str) -> list[str]:
    listed = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}/attachments")).json()["value"]
    return [item["name"] for item in listed]


async def test_a_file_on_an_outlook_series_reaches_the_series_activity_once() -> None:
    """R18/R28: a file attached to an Outlook series (its master) reaches the ERP's one series activity with the
    same bytes, once; the occurrences add nothing, and the next run is quiet."""
    async with fake_stack() as stack:
        _files_on(stack)
        master_id = await outlook_series(stack)
        await sync(stack)
        body = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "kick-off.txt",
            "contentType": "text/plain",
            "contentBytes": base64.b64encode(DATA).decode(),
        }
        await stack.outlook("POST", f"/users/{MAILBOX}/events/{master_id}/attachments", json=body)

        report = await sync(stack)

        assert writes(report) == {"erp file added": 1}
        (series,) = await activities(stack)
        assert [(f["name"], f["sha256"]) for f in series["attachments"]] == [
            ("kick-off.txt", hashlib.sha256(DATA).hexdigest())
        ]
        assert not writes(await sync(stack))


async def test_a_file_on_an_erp_series_reaches_its_master_event() -> None:
    """R18/R28: a file attached to an ERP series activity lands on the series' master in Outlook, once."""
    async with fake_stack() as stack:
        _files_on(stack)
        activity = await erp_series(stack)
        await sync(stack)
        headers = {"Content-Type": "text/plain", "Idempotency-Key": "person-1"}
        await stack.erp_call(
            "POST",
            f"/activities/{activity['id']}/attachments",
            params={"name": "agenda.txt"},
            content=DATA,
            headers=headers,
        )

        report = await sync(stack)

        assert writes(report) == {"m365 file added": 1}
        (master,) = await masters(stack)
        assert await _master_files(stack, master["id"]) == ["agenda.txt"]
        assert not writes(await sync(stack))
