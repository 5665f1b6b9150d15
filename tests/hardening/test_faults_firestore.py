"""Fault injection: the Firestore emulator is killed and restarted on the same port, then frozen and
thawed, while under load.

Writers sign in as new users (first-login policy ``create``: the answer to their first request is
the acknowledgement that ``users/{uid}`` was written) and create notes (``create_note`` answering
with the note is the acknowledgement); readers repeat ``whoami`` as existing users with the user
cache off, so every request reads Firestore. Every acknowledged note must be readable by its
owner afterwards. Invariants: every acknowledged write
is in Firestore afterwards, every failed request is a 503 with ``Retry-After`` (never a 500, never a
hang), and the instance recovers by itself once Firestore is back, without a restart.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest

from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import MODERN, mcp_request
from tests.hardening.loadmix import final_message
from tests.hardening.logscan import server_errors

# Timeouts here assume the machine is not shared with other tests: run apart from the parallel phase.
pytestmark = pytest.mark.serial

READERS, WRITERS = 3, 3
SCOPES = "mcp:tools notes:read notes:write"


async def _recovered(acknowledged: set[str], within: float = 60) -> bool:
    """True once a new write is acknowledged within ``within`` seconds."""
    before = len(acknowledged)
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        await asyncio.sleep(0.5)
        if len(acknowledged) > before:
            return True
    return False


async def test_firestore_killed_or_hung_mid_load_loses_no_acknowledged_write_and_recovers_by_itself(
    restartable_firestore, start_function, watched_mint
):
    fs = restartable_firestore
    fn = start_function(
        FIRESTORE_EMULATOR_HOST=fs.host,
        MCP_AUTH_FIRST_LOGIN="create",
        MCP_AUTH_DEFAULT_TOOLSETS="basics,notes",
        MCP_AUTH_DEFAULT_SCOPES=SCOPES.replace(" ", ","),
        MCP_AUTH_USER_CACHE_TTL="0",
    )
    acknowledged: set[str] = set()
    statuses: Counter[str] = Counter()
    unexpected: list[str] = []
    writers_may_write = asyncio.Event()
    writers_may_write.set()
    writes_in_flight = [0]
    stop = asyncio.Event()
    fault = {"down": False}

    async def whoami(http: httpx.AsyncClient, uid: str) -> bool:
        token = watched_mint(uid, audience=fn.url, scopes=SCOPES)
        try:
            response = await http.post(
                fn.url, **mcp_request("tools/call", {"name": "whoami", "arguments": {}}, token=token, protocol=MODERN)
            )
        except httpx.TimeoutException:
            unexpected.append(f"{uid}: no answer within the client timeout")
            return False
        phase = "outage" if fault["down"] else "up"
        statuses[f"{phase} {response.status_code}"] += 1
        if response.status_code == 200:
            if f'"user_id":"{uid}"' not in response.text.replace(" ", ""):
                unexpected.append(f"{uid}: 200 that is not its whoami: {response.text[:200]}")
                return False
            return True
        if response.status_code != 503 or not response.headers.get("retry-after", "").isdigit():
            unexpected.append(f"{uid}: {response.status_code} {dict(response.headers)} {response.text[:200]}")
        elif "retry" not in response.json().get("error_description", "").lower():
            unexpected.append(f"{uid}: 503 without a retry hint: {response.text[:200]}")
        return False

    notes: dict[str, str] = {}  # acknowledged note id -> owner
    note_errors: Counter[str] = Counter()

    async def tool(http: httpx.AsyncClient, uid: str, name: str, arguments: dict) -> dict | None:
        """The tool's structured result, or None after a retryable failure (anything else is recorded)."""
        request = mcp_request(
            "tools/call",
            {"name": name, "arguments": arguments},
            protocol=MODERN,
            token=watched_mint(uid, audience=fn.url, scopes=SCOPES),
        )
        try:
            response = await http.post(fn.url, **request)
        except httpx.TimeoutException:
            unexpected.append(f"{uid}: {name} got no answer within the client timeout")
            return None
        if response.status_code == 503 and response.headers.get("retry-after", "").isdigit():
            note_errors["503"] += 1
            return None
        message = final_message(response.headers.get("content-type", ""), response.content)
        result = (message or {}).get("result") if response.status_code == 200 else None
        if not isinstance(result, dict):
            unexpected.append(f"{uid}: {name} answered {response.status_code} {response.text[:200]}")
            return None
        if result.get("isError"):
            text = " ".join(c.get("text", "") for c in result.get("content", []))
            if "retry" not in text.lower():
                unexpected.append(f"{uid}: {name} tool error without a retry hint: {text[:200]}")
            note_errors["tool error"] += 1
            return None
        return result.get("structuredContent")

    async def noter(http: httpx.AsyncClient, uid: str) -> None:
        n = 0
        while not stop.is_set():
            await writers_may_write.wait()
            n += 1
            writes_in_flight[0] += 1
            try:
                note = await tool(http, uid, "create_note", {"title": f"{uid} #{n}", "request_id": f"{uid}-{n}"})
            finally:
                writes_in_flight[0] -= 1
            if note is not None:
                notes[note["id"]] = uid

    async def writer(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            await writers_may_write.wait()
            uid = f"fault-w-{uuid.uuid4().hex[:12]}"
            writes_in_flight[0] += 1
            try:
                if await whoami(http, uid):
                    acknowledged.add(uid)
            finally:
                writes_in_flight[0] -= 1

    async def reader(http: httpx.AsyncClient, uid: str) -> None:
        while not stop.is_set():
            await whoami(http, uid)
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
        readers = [f"fault-r-{uuid.uuid4().hex[:12]}" for _ in range(READERS)]
        for uid in readers:
            assert await whoami(http, uid)  # created on first login
        tasks = [asyncio.create_task(writer(http)) for _ in range(WRITERS)]
        tasks += [asyncio.create_task(reader(http, uid)) for uid in readers]
        tasks += [asyncio.create_task(noter(http, uid)) for uid in readers]
        await asyncio.sleep(3)
        acknowledged_before = len(acknowledged)

        # The outage: what the store holds is kept (a snapshot, as a durable store keeps it), the process dies.
        writers_may_write.clear()
        while writes_in_flight[0]:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(fs.outage, TEST_PROJECT)
        fault["down"] = True
        writers_may_write.set()
        await asyncio.sleep(4)  # readers and writers keep going against a dead store
        await asyncio.to_thread(fs.restart)
        fault["down"] = False

        recovered_after_restart = await _recovered(acknowledged)

        # A hung store: the process is frozen, connections stay open and nothing answers.
        fault["down"] = True
        await asyncio.to_thread(fs.freeze)
        await asyncio.sleep(5)
        ready = await http.get(fn.base + "/readyz")
        await asyncio.to_thread(fs.thaw)
        fault["down"] = False
        recovered_after_thaw = await _recovered(acknowledged)
        stop.set()
        await asyncio.gather(*tasks)

        print(
            "\nfirestore fault statuses:",
            dict(statuses),
            "acknowledged users:",
            len(acknowledged),
            "acknowledged notes:",
            len(notes),
            "note failures:",
            dict(note_errors),
        )
        assert unexpected == []
        assert acknowledged_before > 0 and statuses["outage 503"] > 0  # the faults really happened under load
        assert recovered_after_restart, "no write succeeded within 60 s of Firestore coming back"
        assert recovered_after_thaw, "no write succeeded within 60 s of Firestore answering again"
        assert ready.status_code == 503 and ready.headers.get("retry-after"), ready
        for uid in readers:  # readers recover too
            assert await whoami(http, uid)
        missing = []
        for uid in sorted(acknowledged | set(readers)):
            url = f"http://{fs.host}/v1/projects/{TEST_PROJECT}/databases/(default)/documents/users/{uid}"
            if (await http.get(url)).status_code != 200:
                missing.append(uid)
        assert missing == [], f"{len(missing)} acknowledged writes are lost"
        assert notes and note_errors  # notes were written before and after the faults, and some failed
        lost = [
            note_id
            for note_id, uid in notes.items()
            if (await tool(http, uid, "get_note", {"id": note_id}) or {}).get("id") != note_id
        ]
        assert lost == [], f"{len(lost)} acknowledged notes are not readable by their owner"
        assert unexpected == []
    assert server_errors(fn.output()) == []
