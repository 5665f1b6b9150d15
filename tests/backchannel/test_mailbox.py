"""Reply slots on the Firestore emulator: two ``Mailbox`` objects are two instances of one deployment."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import anyio
import pytest

from mcp_auth.backchannel import (
    MAX_REPLY_BYTES,
    DuplicateReply,
    InvalidReply,
    Mailbox,
    ReplyTooLarge,
    UnknownReply,
    client_reply,
)
from mcp_auth.backchannel.mailbox import COLLECTION, LostReply
from mcp_auth.store.documents import UserCollection
from mcp_auth.store.firestore import firestore_client
from mcp_auth.store.handle import user_stores
from tests._fixtures.firestore import TEST_PROJECT

pytestmark = pytest.mark.usefixtures("firestore_emulator")


def _mailbox() -> Mailbox:
    return Mailbox(user_stores(project=TEST_PROJECT), ttl=timedelta(minutes=2), first_poll=0.02, max_poll=0.1)


def _uid() -> str:
    return f"bc-{uuid.uuid4().hex[:12]}"


def _answer(reply_id: str, **result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": reply_id, "result": result or {"action": "accept", "content": {"ok": True}}}


async def _wait(slot: Any) -> dict[str, Any]:
    with anyio.fail_after(20):
        return await slot.wait()


async def test_a_reply_received_by_another_instance_reaches_the_waiting_one() -> None:
    waiting, receiving, uid = _mailbox(), _mailbox(), _uid()
    slot = await waiting.open(uid)
    assert slot.reply_id.startswith("srv-")
    await receiving.deliver(uid, _answer(slot.reply_id, text="from B"))
    assert (await _wait(slot))["result"] == {"text": "from B"}


async def test_a_reply_received_by_the_waiting_instance_is_handed_over_in_memory() -> None:
    mailbox, uid = _mailbox(), _uid()
    slot = await mailbox.open(uid)
    await mailbox.deliver(uid, _answer(slot.reply_id))
    assert (await _wait(slot))["result"]["action"] == "accept"
    stored = await UserCollection(firestore_client(project=TEST_PROJECT), uid, COLLECTION).get(slot.doc_id)
    assert stored.data["state"] == "pending"  # no write was needed
    assert "reply" not in stored.data


async def test_another_user_cannot_answer_and_the_slot_stays_open_for_its_owner() -> None:
    waiting, receiving = _mailbox(), _mailbox()
    owner, intruder = _uid(), _uid()
    slot = await waiting.open(owner)
    for mailbox in (receiving, waiting):  # on another instance, and on the waiting one itself
        with pytest.raises(UnknownReply):
            await mailbox.deliver(intruder, _answer(slot.reply_id, text="forged"))
    await receiving.deliver(owner, _answer(slot.reply_id, text="genuine"))
    assert (await _wait(slot))["result"] == {"text": "genuine"}


async def test_a_second_answer_is_refused_and_the_first_is_kept() -> None:
    waiting, receiving, uid = _mailbox(), _mailbox(), _uid()
    slot = await waiting.open(uid)
    await receiving.deliver(uid, _answer(slot.reply_id, text="first"))
    with pytest.raises(DuplicateReply):
        await receiving.deliver(uid, _answer(slot.reply_id, text="second"))
    assert (await _wait(slot))["result"] == {"text": "first"}
    local = await waiting.open(uid)
    await waiting.deliver(uid, _answer(local.reply_id, text="first"))
    with pytest.raises(DuplicateReply):
        await waiting.deliver(uid, _answer(local.reply_id, text="second"))


async def test_an_error_reply_is_delivered_as_sent() -> None:
    waiting, receiving, uid = _mailbox(), _mailbox(), _uid()
    slot = await waiting.open(uid)
    error = {"code": -1, "message": "User rejected sampling request"}
    await receiving.deliver(uid, {"jsonrpc": "2.0", "id": slot.reply_id, "error": error})
    assert (await _wait(slot))["error"] == error


@pytest.mark.parametrize(
    "reply_id",
    [
        "srv-" + "0" * 32,  # well-formed, never issued
        "srv-" + "0" * 31,
        "SRV-" + "a" * 32,
        "srv-" + "g" * 32,
        "../users/x",
        "",
        "a" * 10_000,
        7,
        None,
        ["srv-x"],
        {"$gt": ""},
        "srv-" + "a" * 32 + "\n",
    ],
)
async def test_ids_never_issued_to_the_caller_are_unknown(reply_id: Any) -> None:
    with pytest.raises(UnknownReply) as refused:
        await _mailbox().deliver(_uid(), {"jsonrpc": "2.0", "id": reply_id, "result": {}})
    assert "timed out" in refused.value.message


@pytest.mark.parametrize(
    "message",
    [
        {"id": "srv-" + "a" * 32, "result": {}},  # no jsonrpc
        {"jsonrpc": "1.0", "id": "srv-" + "a" * 32, "result": {}},
        {"jsonrpc": "2.0", "id": "srv-" + "a" * 32, "result": "yes"},
        {"jsonrpc": "2.0", "id": "srv-" + "a" * 32, "result": {}, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": "srv-" + "a" * 32, "error": "no"},
        {"jsonrpc": "2.0", "id": "srv-" + "a" * 32, "error": {"code": "1", "message": "x"}},
        {"jsonrpc": "2.0", "id": "srv-" + "a" * 32, "error": {"code": True, "message": "x"}},
        {"jsonrpc": "2.0", "id": "srv-" + "a" * 32, "error": {"code": 1}},
    ],
)
async def test_malformed_replies_are_refused_with_what_to_fix(message: dict[str, Any]) -> None:
    with pytest.raises(InvalidReply) as refused:
        await _mailbox().deliver(_uid(), message)
    assert refused.value.status == 400
    assert "reply" in refused.value.message.lower()


async def test_an_oversized_reply_is_refused_and_the_slot_stays_open() -> None:
    waiting, receiving, uid = _mailbox(), _mailbox(), _uid()
    slot = await waiting.open(uid)
    with pytest.raises(ReplyTooLarge):
        await receiving.deliver(uid, _answer(slot.reply_id, text="x" * MAX_REPLY_BYTES))
    await receiving.deliver(uid, _answer(slot.reply_id, text="short"))
    assert (await _wait(slot))["result"] == {"text": "short"}


async def test_a_slot_that_vanished_fails_the_wait_instead_of_hanging() -> None:
    mailbox, uid = _mailbox(), _uid()
    slot = await mailbox.open(uid)
    await slot.discard()
    with pytest.raises(LostReply):
        await _wait(slot)


async def test_slots_carry_an_expiry_for_the_ttl_policy() -> None:
    mailbox, uid = _mailbox(), _uid()
    slot = await mailbox.open(uid)
    stored = await UserCollection(firestore_client(project=TEST_PROJECT), uid, COLLECTION).get(slot.doc_id)
    assert stored.data["expire_at"] > stored.data["created_at"] + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":"srv-1","result":{}}', {}, True),
        (b'{"jsonrpc":"2.0","id":"srv-1","result":{}}', {"mcp-protocol-version": "2025-11-25"}, True),
        (b'{"jsonrpc":"2.0","id":"srv-1","error":{"code":1,"message":"no"}}', {}, True),
        (b'{"jsonrpc":"2.0","id":"srv-1","result":{}}', {"mcp-protocol-version": "2026-07-28"}, False),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"result":1}}}', {}, False),
        (b'{"jsonrpc":"2.0","method":"notifications/initialized"}', {}, False),
        (b'{"jsonrpc":"2.0","result":{}}', {}, False),  # no id: not a reply to anything
        (b'[{"jsonrpc":"2.0","id":"srv-1","result":{}}]', {}, False),  # batches are not handshake-era MCP
        (b'{"result": ', {}, False),
        (b'\xff\xfe"result"', {}, False),
    ],
)
def test_only_handshake_era_responses_are_taken_for_replies(
    body: bytes, headers: dict[str, str], expected: bool
) -> None:
    assert (client_reply(body, headers) is not None) is expected


def test_the_reply_detector_parses_nothing_without_a_result_or_error_key() -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"x": "y" * 100_000}}).encode()
    assert client_reply(body, {}) is None
