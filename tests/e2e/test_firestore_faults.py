"""Firestore faults under the notes toolset, on an emulator of the test's own (fixed port, restartable).

The emulator is killed mid-run: tool calls get a clear, retryable tool error (the user's record is
cached, so the request reaches the tool); the emulator comes back on the same port with everything
acknowledged before; the same client's retry with the same request id then succeeds by itself and
creates the note exactly once. Two clients editing one note end with one success and one conflict.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from tests._fixtures.firestore import TEST_PROJECT
from tests.e2e.clients import mcp_client
from tests.e2e.test_notes import SCOPES, text


async def _titles(client) -> list[str]:
    listed = await client.call_tool("list_notes", {"limit": 50})
    assert not listed.is_error, text(listed)
    return [n["title"] for n in listed.structured_content["notes"]]


async def test_an_emulator_outage_is_a_retryable_tool_error_loses_nothing_and_heals_by_itself(
    restartable_firestore, start_function, mint
):
    fs = restartable_firestore
    fn = start_function(
        FIRESTORE_EMULATOR_HOST=fs.host,
        MCP_AUTH_FIRST_LOGIN="create",
        MCP_AUTH_DEFAULT_TOOLSETS="notes",
        MCP_AUTH_DEFAULT_SCOPES=",".join(SCOPES),
        MCP_AUTH_USER_CACHE_TTL="300",
    )
    token = mint(f"faults-{uuid.uuid4().hex[:8]}", audience=fn.url, scopes=" ".join(SCOPES))
    async with mcp_client(fn.url, token) as client:
        for title in ("one", "two", "three"):
            created = await client.call_tool("create_note", {"title": title, "request_id": f"ack-{title}"})
            assert not created.is_error, text(created)
        await asyncio.to_thread(fs.snapshot, TEST_PROJECT)  # what durable storage holds at the outage
        await asyncio.to_thread(fs.kill)

        during = await client.call_tool("create_note", {"title": "four", "request_id": "during-outage"})
        assert during.is_error and "retryable" in text(during), text(during)
        listing = await client.call_tool("list_notes", {})
        assert listing.is_error and "retryable" in text(listing), text(listing)

        await asyncio.to_thread(fs.start)
        give_up = time.monotonic() + 90
        while True:  # the client's own retry loop: same request id, no restart of the function
            retried = await client.call_tool("create_note", {"title": "four", "request_id": "during-outage"})
            if not retried.is_error or time.monotonic() > give_up:
                break
            assert "retryable" in text(retried), text(retried)
            await asyncio.sleep(0.5)
        assert not retried.is_error, text(retried)
        again = await client.call_tool("create_note", {"title": "four", "request_id": "during-outage"})
        assert again.structured_content["id"] == retried.structured_content["id"]
        assert sorted(await _titles(client)) == ["four", "one", "three", "two"]


async def test_two_clients_editing_one_note_end_with_one_success_and_one_conflict(function_server, make_user, mint):
    user = await make_user(toolsets=("notes",), scopes=SCOPES)
    token = mint(user.uid, audience=function_server.url, scopes=" ".join(SCOPES))
    async with mcp_client(function_server.url, token) as first, mcp_client(function_server.url, token) as second:
        note = (await first.call_tool("create_note", {"title": "shared"})).structured_content
        results = await asyncio.gather(
            *(
                client.call_tool("update_note", {"id": note["id"], "version": note["version"], "body": body})
                for client, body in ((first, "from first"), (second, "from second"))
            )
        )
        wins = [r for r in results if not r.is_error]
        losses = [r for r in results if r.is_error]
        assert len(wins) == 1 and len(losses) == 1
        assert "changed since you read it" in text(losses[0])
        stored = (await first.call_tool("get_note", {"id": note["id"]})).structured_content
        assert stored["body"] == wins[0].structured_content["body"]
        assert stored["version"] == wins[0].structured_content["version"]
