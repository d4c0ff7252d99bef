"""The change hook: the reference ERP's signed calls after each write, and ``verify_hook`` on the receiving side."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from shared.core.activities import ActivityFields, ActivityPatch, ActivityType
from shared.erp.hook import HookRejected, sign_hook, verify_delivery, verify_hook
from shared.erp.http_client import HttpErp
from tests.erp.conftest import HOOK_SECRET, HookReceiver

Mutation = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]
NOW = 1_795_000_000
DELIVERY = "0f9d6c1e-3b7a-4e52-9c1d-2a8b5e4f7d60"
BODY = json.dumps({"changes": [{"entity": "activity", "id": "A1", "userIds": ["U1", "U2"]}]}).encode()


def fields(**overrides: object) -> ActivityFields:
    base: dict[str, object] = {
        "type": ActivityType.MEETING,
        "subject": "Review",
        "start": datetime(2026, 12, 3, 10),
        "end": datetime(2026, 12, 3, 11),
        "owner_id": "U1",
    }
    return ActivityFields.model_validate({**base, **overrides})


# --- delivery by the reference ERP -----------------------------------------------------------------------


async def test_write_calls_the_hook_with_a_verifiable_signature(http_erp: HttpErp, hook_receiver: HookReceiver) -> None:
    """After a create the ERP posts a signed call naming the activity and its users (R5)."""
    created = await http_erp.create_activity(fields(registered_user_ids=("U2",)), idempotency_key="hook-1")
    calls = hook_receiver.wait_for(1)
    assert len(calls) == 1
    payload = verify_hook(calls[0].headers, calls[0].body, secret=HOOK_SECRET, now=time.time())
    assert [(c.entity, c.id, c.user_ids) for c in payload.changes] == [("activity", created.id, ("U1", "U2"))]


async def test_update_hook_names_users_removed_by_the_change(http_erp: HttpErp, hook_receiver: HookReceiver) -> None:
    """A user taken off an activity still hears about it, so their calendar copy is removed (R5, R8)."""
    created = await http_erp.create_activity(fields(registered_user_ids=("U2",)), idempotency_key="hook-2")
    await http_erp.update_activity(created.id, ActivityPatch(registered_user_ids=()), version=created.version)
    calls = hook_receiver.wait_for(2)
    payloads = [verify_hook(c.headers, c.body, secret=HOOK_SECRET, now=time.time()) for c in calls]
    assert len(calls) == 2
    # Both calls (create, and the update that took U2 off) name U2.
    assert [p.changes[0].user_ids for p in payloads] == [("U1", "U2"), ("U1", "U2")]


async def test_idempotent_replay_of_a_create_does_not_call_the_hook_again(
    http_erp: HttpErp, hook_receiver: HookReceiver, raw: httpx.AsyncClient
) -> None:
    """A replayed create changes nothing, so it announces nothing (R10)."""
    await http_erp.create_activity(fields(), idempotency_key="hook-3")
    await http_erp.create_activity(fields(), idempotency_key="hook-3")
    # The test surface waits for every hook call in flight, so the count below is final.
    (await raw.get("/_erp/hooks")).raise_for_status()
    assert len(hook_receiver.calls) == 1


async def test_leave_request_write_calls_the_hook(raw: httpx.AsyncClient, hook_receiver: HookReceiver) -> None:
    """Leave request changes are announced too, naming the requesting user (R30)."""
    body = {"userId": "U2", "leaveType": "Vacation", "start": "2026-12-21T00:00:00", "end": "2026-12-22T00:00:00"}
    leave = (await raw.post("/leave-requests", json=body)).json()
    calls = hook_receiver.wait_for(1)
    payload = verify_hook(calls[0].headers, calls[0].body, secret=HOOK_SECRET, now=time.time())
    assert [(c.entity, c.id, c.user_ids) for c in payload.changes] == [("leaveRequest", leave["id"], ("U2",))]


async def test_failed_hook_call_is_retried(http_erp: HttpErp, hook_receiver: HookReceiver) -> None:
    """A receiver answering 503 gets the call again, freshly signed under the same delivery id (so a retry of a
    delivery that got through is a replay), and the write itself succeeded (R32)."""
    hook_receiver.fail_next = 1
    created = await http_erp.create_activity(fields(), idempotency_key="hook-4")
    calls = hook_receiver.wait_for(2)
    assert len(calls) == 2
    assert calls[0].body == calls[1].body
    assert calls[0].headers["x-erp-delivery"] == calls[1].headers["x-erp-delivery"]
    assert verify_hook(calls[1].headers, calls[1].body, secret=HOOK_SECRET, now=time.time()).changes[0].id == created.id


async def test_each_delivery_carries_its_own_id_and_verifies(http_erp: HttpErp, hook_receiver: HookReceiver) -> None:
    """Two writes of one activity, however close, are two deliveries with distinct ids that each verify, so the
    receiver's replay guard tells them apart (R5)."""
    created = await http_erp.create_activity(fields(), idempotency_key="hook-5")
    await http_erp.update_activity(created.id, ActivityPatch(subject="Review, moved"), version=created.version)
    calls = hook_receiver.wait_for(2)
    deliveries = [verify_delivery(c.headers, c.body, secret=HOOK_SECRET, now=time.time()) for c in calls]
    assert len(deliveries) == 2
    assert deliveries[0].delivery_id != deliveries[1].delivery_id
    assert [d.delivery_id for d in deliveries] == [c.headers["x-erp-delivery"] for c in calls]
    assert {d.payload.changes[0].id for d in deliveries} == {created.id}


# --- verify_hook -----------------------------------------------------------------------------------------


def test_signed_call_verifies_and_yields_the_payload() -> None:
    """A call signed with the shared secret over timestamp, delivery id and body verifies (HMAC-SHA256, RFC 2104)."""
    headers = sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id=DELIVERY)
    payload = verify_hook(headers, BODY, secret="s3cret", now=NOW + 10)
    assert payload.changes[0].user_ids == ("U1", "U2")


def test_signature_follows_the_contracts_worked_example() -> None:
    """The signed string is "<timestamp>.<delivery id>.<raw body>", as docs/erp-sync-api.yaml works it through
    (HMAC-SHA256, RFC 2104), so an ERP team can check its own signer against the published value."""
    body = b'{"changes":[{"entity":"activity","id":"A1","userIds":["U1"]}]}'
    headers = sign_hook(body, secret="s3cret", timestamp=NOW, delivery_id=DELIVERY)
    assert headers["X-Erp-Delivery"] == DELIVERY
    assert headers["X-Erp-Signature"] == "sha256=710341f4606d643fe84bf0e3e8fd8470b96779334cff17e2c7c9c4c826c5c895"
    delivery = verify_delivery(headers, body, secret="s3cret", now=NOW)
    assert (delivery.delivery_id, delivery.timestamp, delivery.payload.changes[0].id) == (DELIVERY, NOW, "A1")


def test_same_body_in_the_same_second_signs_differently_per_delivery() -> None:
    """Two changes signed in one second with one body differ by their delivery ids, so neither looks like a
    replay of the other (R5)."""
    first = sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id="delivery-1")
    second = sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id="delivery-2")
    assert first["X-Erp-Signature"] != second["X-Erp-Signature"]
    ids = [verify_delivery(h, BODY, secret="s3cret", now=NOW).delivery_id for h in (first, second)]
    assert ids == ["delivery-1", "delivery-2"]


@pytest.mark.parametrize("delivery_id", ["", "a.b", "with space", "ü", "x" * 129])
def test_signer_refuses_a_delivery_id_outside_the_contract(delivery_id: str) -> None:
    """A delivery id is 1-128 letters, digits, '-' or '_': without '.', the signed string splits one way only."""
    with pytest.raises(ValueError, match="delivery_id"):
        sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id=delivery_id)


def test_header_names_are_matched_case_insensitively() -> None:
    """Header names are case-insensitive (RFC 9110 §5.1), whatever case the host passes them in."""
    headers = {
        name.upper(): value
        for name, value in sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id=DELIVERY).items()
    }
    assert verify_hook(headers, BODY, secret="s3cret", now=NOW).changes[0].id == "A1"


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("wrong secret", lambda h, b: (sign_hook(b, secret="other", timestamp=NOW, delivery_id=DELIVERY), b)),
        ("tampered body", lambda h, b: (h, b.replace(b"A1", b"A2"))),
        ("timestamp changed after signing", lambda h, b: ({**h, "X-Erp-Timestamp": str(NOW + 1)}, b)),
        ("delivery id forged after signing", lambda h, b: ({**h, "X-Erp-Delivery": "forged-1"}, b)),
        ("delivery id not allowed", lambda h, b: ({**h, "X-Erp-Delivery": "a.b"}, b)),
        ("missing delivery id", lambda h, b: ({k: v for k, v in h.items() if k != "X-Erp-Delivery"}, b)),
        ("missing signature", lambda h, b: ({k: v for k, v in h.items() if k != "X-Erp-Signature"}, b)),
        ("missing timestamp", lambda h, b: ({k: v for k, v in h.items() if k != "X-Erp-Timestamp"}, b)),
        ("signature without sha256= prefix", lambda h, b: ({**h, "X-Erp-Signature": h["X-Erp-Signature"][7:]}, b)),
        ("timestamp not a number", lambda h, b: ({**h, "X-Erp-Timestamp": "yesterday"}, b)),
    ],
)
def test_bad_signature_is_rejected(case: str, mutate: Mutation) -> None:
    """Anything but the exact signed timestamp, delivery id and body with the shared secret is rejected (401,
    nothing queued); a call without a delivery id is refused outright, there is no older rule to fall back to."""
    headers, body = mutate(sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id=DELIVERY), BODY)
    with pytest.raises(HookRejected):
        verify_hook(headers, body, secret="s3cret", now=NOW)


def test_expired_call_is_rejected() -> None:
    """A call signed more than the window (300 s) ago is refused."""
    headers = sign_hook(BODY, secret="s3cret", timestamp=NOW, delivery_id=DELIVERY)
    assert verify_hook(headers, BODY, secret="s3cret", now=NOW + 300).changes
    with pytest.raises(HookRejected, match="window"):
        verify_hook(headers, BODY, secret="s3cret", now=NOW + 301)


def test_call_from_the_future_beyond_the_window_is_rejected() -> None:
    """A timestamp far ahead of the receiver's clock is as suspicious as an old one."""
    headers = sign_hook(BODY, secret="s3cret", timestamp=NOW + 600, delivery_id=DELIVERY)
    with pytest.raises(HookRejected):
        verify_hook(headers, BODY, secret="s3cret", now=NOW)


async def test_replayed_real_call_is_rejected_once_outside_the_window(
    http_erp: HttpErp, hook_receiver: HookReceiver
) -> None:
    """A genuine call captured and sent again after the replay window no longer verifies."""
    await http_erp.create_activity(fields(), idempotency_key="hook-replay")
    call = hook_receiver.wait_for(1)[0]
    stamp = int(call.headers["x-erp-timestamp"])
    assert verify_hook(call.headers, call.body, secret=HOOK_SECRET, now=stamp + 5).changes
    with pytest.raises(HookRejected):
        verify_hook(call.headers, call.body, secret=HOOK_SECRET, now=stamp + 301)


def test_signed_but_malformed_body_is_rejected() -> None:
    """An authentic call whose body is not a HookPayload is refused, not half-processed."""
    for body in (b"not json", b'{"changes": [{"entity": "invoice", "id": "1"}]}', b"{}"):
        headers = sign_hook(body, secret="s3cret", timestamp=NOW, delivery_id=DELIVERY)
        with pytest.raises(HookRejected, match="malformed"):
            verify_hook(headers, body, secret="s3cret", now=NOW)


def test_empty_secret_rejects_everything() -> None:
    """A receiver without a configured secret accepts nothing rather than everything."""
    headers = sign_hook(BODY, secret="", timestamp=NOW, delivery_id=DELIVERY)
    with pytest.raises(HookRejected):
        verify_hook(headers, BODY, secret="", now=NOW)
