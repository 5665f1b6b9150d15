"""The request context: one context variable, set once per request, that concurrent requests never share."""

from __future__ import annotations

import asyncio

import pytest

from mcp_auth import McpAuthError, Principal, UserRecord, current_user, user_store
from mcp_auth.context import RequestContext, UserContext, effective_scopes, request_context
from mcp_auth.store.handle import UserStore


def _context(uid: str, *, stores=None) -> RequestContext:
    record = UserRecord(uid=uid, scopes=frozenset({"a"}))
    user = UserContext(principal=Principal(uid, "jwt", scopes=frozenset({"a"})), record=record, scopes=frozenset({"a"}))
    return RequestContext(user=user, stores=stores or (lambda owner: UserStore(object(), owner)))  # type: ignore[arg-type]


def test_outside_a_request_the_helpers_say_where_to_call_them():
    with pytest.raises(McpAuthError, match="tool handler"):
        current_user()
    with pytest.raises(McpAuthError, match="tool handler"):
        user_store()


async def test_concurrent_requests_each_see_their_own_user_and_store():
    seen: dict[str, tuple[str, str]] = {}

    async def serve(uid: str) -> None:
        with request_context(_context(uid)):
            await asyncio.sleep(0.01)  # interleave with the other request
            seen[uid] = (current_user().user_id, user_store().uid)

    await asyncio.gather(*(serve(f"user-{n}") for n in range(5)))
    assert seen == {f"user-{n}": (f"user-{n}", f"user-{n}") for n in range(5)}
    with pytest.raises(McpAuthError):
        current_user()  # and nothing is left behind


async def test_the_store_handle_is_always_the_callers():
    asked: list[str] = []

    def stores(uid: str) -> UserStore:
        asked.append(uid)
        return UserStore(object(), uid)  # type: ignore[arg-type]

    with request_context(_context("alice", stores=stores)):
        assert user_store().uid == "alice"
    assert asked == ["alice"]


def test_effective_scopes_are_the_credentials_within_the_records():
    record = UserRecord(uid="u", scopes=frozenset({"a", "b"}))
    assert effective_scopes(Principal("u", "jwt", scopes=frozenset({"b", "c"})), record) == frozenset({"b"})
    assert effective_scopes(Principal("u", "dev"), record) == frozenset({"a", "b"})  # dev carries none of its own
