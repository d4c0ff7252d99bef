"""At most 4 requests at once per mailbox from one process (page "Microsoft Graph throttling limits",
https://learn.microsoft.com/en-us/graph/throttling-limits, Outlook service: 4 concurrent requests per app and
mailbox); a ``$batch`` of one mailbox's writes runs up to 4 side by side in Graph, so it takes all 4."""

from __future__ import annotations

import asyncio

from shared.graph.wire import MailboxSlots


async def test_no_more_than_four_requests_at_once_per_mailbox_and_others_are_not_held() -> None:
    """12 requests to one mailbox (its address in any case) run 4 at a time; another mailbox's are not held."""
    slots = MailboxSlots()
    busy = {"ann": 0, "bob": 0}
    peak = {"ann": 0, "bob": 0}

    async def request(mailbox: str) -> None:
        async with slots.one(mailbox.upper() if mailbox == "ann" else mailbox):
            busy[mailbox] += 1
            peak[mailbox] = max(peak[mailbox], busy[mailbox])
            await asyncio.sleep(0.01)
            busy[mailbox] -= 1

    await asyncio.gather(*(request("ann") for _ in range(12)), *(request("bob") for _ in range(3)))
    assert peak == {"ann": 4, "bob": 3}


async def test_a_batch_waits_for_every_slot_and_holds_them() -> None:
    """The batch starts when the request under way ends; a request asked for meanwhile waits for the batch."""
    slots = MailboxSlots()
    order: list[str] = []

    async def single(name: str, after: float = 0.0) -> None:
        await asyncio.sleep(after)
        async with slots.one("ann"):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    async def batch() -> None:
        await asyncio.sleep(0.001)
        async with slots.every("ann"):
            order.append("batch in")
            await asyncio.sleep(0.01)
            order.append("batch out")

    await asyncio.gather(single("a"), batch(), single("b", after=0.005))
    assert order == ["a in", "a out", "batch in", "batch out", "b in", "b out"]
