"""A person attaching and removing files by hand, in Outlook and in the ERP (R18): used by tests and bench.

Small files go to Graph in one request, large ones through an upload session in chunks of a multiple of
320 KiB, to a pre-authenticated URL without a token, as Outlook clients do. ERP files go through the ERP Sync
API (docs/erp-sync-api.yaml).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from emulators.stack import ERP_KEY, ERP_URL
from shared.composition import Services

MB = 1024 * 1024
CHUNK = 4 * MB - (4 * MB) % (320 * 1024)


def content(size: int, seed: str) -> bytes:
    """``size`` bytes that differ with ``seed`` (not all alike, so a mix-up shows in the hash)."""
    block = hashlib.sha256(seed.encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FilePerson:
    """A person at both ends of one synced item: her Outlook (the Graph emulator's API, as her mail app would call
    it) and the reference ERP's API. ``event_id`` and ``activity_id`` name the item."""

    def __init__(self, *, outlook: httpx.AsyncClient, graph_app: Any, erp_app: Any, mailbox: str) -> None:
        self.control, self.graph_app, self.erp_app, self.mailbox = outlook, graph_app, erp_app, mailbox
        self.event_id = ""
        self.activity_id = ""

    async def outlook(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.control.request(method, f"/v1.0{path}", **kwargs)
        assert response.status_code < 300, response.text
        return dict(response.json()) if response.content else {}

    async def erp(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.erp_app)
        async with httpx.AsyncClient(transport=transport, base_url=ERP_URL) as client:
            response = await client.request(
                method, path, headers={"Authorization": "Bearer " + ERP_KEY, **kwargs.pop("headers", {})}, **kwargs
            )
        assert response.status_code < 300, response.text
        return response

    async def attach_in_outlook(self, name: str, data: bytes) -> None:
        base = f"/users/{self.mailbox}/events/{self.event_id}/attachments"
        if len(data) < 3 * MB:
            body = {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": name,
                "contentType": "application/pdf",
                "contentBytes": base64.b64encode(data).decode(),
            }
            await self.outlook("POST", base, json=body)
            return
        item = {"attachmentType": "file", "name": name, "size": len(data), "contentType": "application/pdf"}
        session = await self.outlook("POST", base + "/createUploadSession", json={"AttachmentItem": item})
        transport = httpx.ASGITransport(app=self.graph_app)
        async with httpx.AsyncClient(transport=transport) as upload:  # pre-authenticated URL: no token
            for start in range(0, len(data), CHUNK):
                piece = data[start : start + CHUNK]
                end = start + len(piece) - 1
                headers = {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Content-Length": str(len(piece))}
                answer = await upload.put(session["uploadUrl"], content=piece, headers=headers)
                assert answer.status_code in (200, 201), answer.text

    async def outlook_files(self) -> dict[str, str]:
        base = f"/users/{self.mailbox}/events/{self.event_id}/attachments"
        listed = await self.outlook("GET", base, params={"$select": "id,name"})
        found = {}
        for item in listed["value"]:
            raw = await self.control.get(f"/v1.0{base}/{item['id']}/$value")
            found[item["name"]] = hashlib.sha256(raw.content).hexdigest()
        return found

    async def erp_files(self) -> dict[str, str]:
        activity = (await self.erp("GET", f"/activities/{self.activity_id}")).json()
        found = {}
        for item in activity.get("attachments", []):
            raw = await self.erp("GET", f"/activities/{self.activity_id}/attachments/{item['id']}/content")
            found[item["name"]] = hashlib.sha256(raw.content).hexdigest()
        return found

    async def attach_in_erp(self, name: str, data: bytes) -> None:
        await self.erp(
            "POST",
            f"/activities/{self.activity_id}/attachments",
            params={"name": name},
            content=data,
            headers={"Content-Type": "application/pdf", "Idempotency-Key": f"person-{name}"},
        )

    async def remove_in_outlook(self, name: str) -> None:
        base = f"/users/{self.mailbox}/events/{self.event_id}/attachments"
        listed = await self.outlook("GET", base, params={"$select": "id,name"})
        (item,) = [i for i in listed["value"] if i["name"] == name]
        await self.outlook("DELETE", f"{base}/{item['id']}")

    async def remove_in_erp(self, name: str) -> None:
        activity = (await self.erp("GET", f"/activities/{self.activity_id}")).json()
        (item,) = [i for i in activity["attachments"] if i["name"] == name]
        await self.erp("DELETE", f"/activities/{self.activity_id}/attachments/{item['id']}")


async def synced_meeting(person: FilePerson, services: Services, user_id: str) -> None:
    """The person makes a meeting in Outlook and their sync runs once: ``person.event_id`` and
    ``person.activity_id`` then name the event and the activity it became."""
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = await person.outlook(
        "POST",
        f"/users/{person.mailbox}/events",
        json={
            "subject": "Contract review",
            "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        },
    )
    person.event_id = event["id"]
    first = await services.engine.sync_user(user_id)
    assert first.done["erp created"] == 1, first.summary()
    link = await services.state.link_by_event(user_id, person.event_id)
    assert link is not None
    assert link.activity_id is not None
    person.activity_id = link.activity_id
