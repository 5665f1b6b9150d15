"""Isolation you can prove: random interleavings of several users' note operations through the real
HTTP path (function subprocess, real ``mcp`` clients) against the emulator.

After every step each user's full listing must equal exactly what a model of *their own* operations
predicts, and every reach for a foreign, guessed or deleted id (tool call or ``note://`` resource)
must answer exactly like a missing note. The model carries over between examples (the users and
their notes persist), so later examples start from richer states.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from mcp_auth.store.users import UserRecord
from tests.e2e.clients import mcp_client
from tests.e2e.test_notes import SCOPES, text
from tests.store.warmup import warm

USERS = 3
MAX_NOTES = 12
TAGS = ("red", "blue")
MISSING = "No note with that id."


class ClientThread:
    """Real MCP clients living in one task of one event loop on a thread (anyio scopes stay in their task)."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        self._loop = asyncio.new_event_loop()
        self._jobs: asyncio.Queue[tuple[Callable[[list[Client]], Awaitable[Any]], Future[Any]] | None]
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._serve(url, tokens),), daemon=True
        )
        self._thread.start()
        self._ready.result(timeout=60)

    async def _serve(self, url: str, tokens: list[str]) -> None:
        self._jobs = asyncio.Queue()
        try:
            async with AsyncExitStack() as stack:
                clients = [await stack.enter_async_context(mcp_client(url, t)) for t in tokens]
                self._ready.set_result(None)
                while (job := await self._jobs.get()) is not None:
                    work, done = job
                    try:
                        done.set_result(await work(clients))
                    except BaseException as exc:  # handed to the test thread
                        done.set_exception(exc)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def run(self, work: Callable[[list[Client]], Awaitable[Any]]) -> Any:
        done: Future[Any] = Future()
        self._loop.call_soon_threadsafe(self._jobs.put_nowait, (work, done))
        return done.result(timeout=120)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._jobs.put_nowait, None)
        self._thread.join(timeout=30)
        self._loop.close()


@dataclass
class Model:
    notes: list[dict[str, dict[str, Any]]] = field(default_factory=lambda: [{} for _ in range(USERS)])
    deleted: list[list[str]] = field(default_factory=lambda: [[] for _ in range(USERS)])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def users(user_repo) -> list[str]:
    uids = [f"iso{i}-{uuid.uuid4().hex[:10]}" for i in range(USERS)]
    await warm(user_repo)
    for uid in uids:
        await user_repo.create(UserRecord(uid=uid, toolsets=frozenset({"notes"}), scopes=frozenset(SCOPES)))
    return uids


@pytest.fixture(scope="module")
def clients(function_server, mint, users) -> Iterator[ClientThread]:
    tokens = [mint(uid, audience=function_server.url, scopes=" ".join(SCOPES)) for uid in users]
    thread = ClientThread(function_server.url, tokens)
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def model() -> Model:
    return Model()


TARGETS = st.sampled_from(["own", "foreign", "guessed", "deleted"])
OPERATIONS = st.one_of(
    st.tuples(
        st.just("create"),
        st.integers(0, USERS - 1),
        st.text("abcXYZ", min_size=1, max_size=12),
        st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
    ),
    st.tuples(st.sampled_from(["get", "resource", "delete"]), st.integers(0, USERS - 1), TARGETS, st.integers(0, 99)),
    st.tuples(
        st.just("update"),
        st.integers(0, USERS - 1),
        TARGETS,
        st.integers(0, 99),
        st.text("abcXYZ", min_size=1, max_size=12),
    ),
    st.tuples(st.just("search"), st.integers(0, USERS - 1), st.sampled_from(["a", "X", "b", "Z"])),
    st.tuples(st.just("tag"), st.integers(0, USERS - 1), st.sampled_from(TAGS)),
)


def _target(model: Model, user: int, kind: str, index: int) -> tuple[str, bool]:
    """(note id, whether the user owns it): own notes, another user's notes, random ids, deleted ids."""
    own = sorted(model.notes[user])
    foreign = sorted(i for u in range(USERS) if u != user for i in model.notes[u])
    pool = {"own": own, "foreign": foreign, "deleted": model.deleted[user]}.get(kind) or []
    if not pool:
        return secrets.token_hex(12), False
    note_id = pool[index % len(pool)]
    return note_id, kind == "own"


async def _listing(client: Client, **args: Any) -> list[dict[str, Any]]:
    notes, cursor = [], None
    while True:
        page = await client.call_tool("list_notes", {"limit": 5, **args} | ({"cursor": cursor} if cursor else {}))
        assert not page.is_error, text(page)
        notes += page.structured_content["notes"]
        if (cursor := page.structured_content["next_cursor"]) is None:
            return notes


async def _apply(clients: list[Client], model: Model, op: tuple[Any, ...]) -> None:
    kind, user = op[0], op[1]
    client, mine = clients[user], model.notes[user]
    if kind == "create":
        if len(mine) >= MAX_NOTES:
            return
        result = await client.call_tool("create_note", {"title": op[2], "tags": op[3]})
        assert not result.is_error, text(result)
        note = result.structured_content
        mine[note["id"]] = {"title": note["title"], "tags": sorted(op[3]), "version": note["version"]}
    elif kind in ("get", "resource", "delete", "update"):
        note_id, owned = _target(model, user, op[2], op[3])
        if kind == "resource":
            try:
                read = await client.read_resource(f"note://{note_id}")
            except MCPError as exc:
                assert not owned and str(exc) == MISSING, str(exc)  # exactly like a missing note
            else:
                assert owned and read.contents[0].text and note_id in read.contents[0].text
            return
        args: dict[str, Any] = {"id": note_id}
        if kind == "update":
            args |= {"version": mine[note_id]["version"] if owned else "2026-01-01T00:00:00Z", "title": op[4]}
        result = await client.call_tool(f"{kind}_note", args)
        if not owned:
            missing = f"Error executing tool {kind}_note: {MISSING}"  # the answer for an id nobody has
            assert result.is_error and text(result) == missing, text(result)
            return
        assert not result.is_error, text(result)
        if kind == "delete":
            del mine[note_id]
            model.deleted[user].append(note_id)
        elif kind == "update":
            mine[note_id] |= {"title": op[4], "version": result.structured_content["version"]}
        else:
            assert result.structured_content["title"] == mine[note_id]["title"]
    elif kind == "search":
        result = await client.call_tool("search_notes", {"title_prefix": op[2], "limit": 50})
        expected = {i for i, n in mine.items() if n["title"].strip().casefold().startswith(op[2].casefold())}
        assert {n["id"] for n in result.structured_content["notes"]} == expected
    elif kind == "tag":
        found = {n["id"] for n in await _listing(client, tag=op[2])}
        assert found == {i for i, n in mine.items() if op[2] in n["tags"]}


async def _check_everyone(clients: list[Client], model: Model) -> None:
    for user, client in enumerate(clients):
        listed = await _listing(client)
        assert {n["id"]: n["title"] for n in listed} == {i: n["title"] for i, n in model.notes[user].items()}


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=8))
def test_every_user_sees_exactly_their_own_notes_after_every_step(clients, model, operations):
    for op in operations:
        clients.run(lambda cs, op=op: _apply(cs, model, op))
        clients.run(lambda cs: _check_everyone(cs, model))
