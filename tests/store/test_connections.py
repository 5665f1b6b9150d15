"""The connections repository on the emulator: bound to one user, one use per link, conditional writes."""

from __future__ import annotations

import uuid

import pytest

from mcp_auth.errors import McpAuthError
from mcp_auth.store.connections import UserConnections, link_digest
from mcp_auth.store.firestore import firestore_client
from tests._fixtures.firestore import TEST_PROJECT


@pytest.fixture
def store_of(firestore_emulator):
    def make(uid: str | None = None) -> UserConnections:
        return UserConnections(lambda: firestore_client(project=TEST_PROJECT), uid or f"u-{uuid.uuid4().hex[:12]}")

    return make


async def test_a_users_connections_are_invisible_to_another_user(store_of):
    alice, bob = store_of(), store_of()
    await alice.put("github", {"sealed": "x"})
    assert (await alice.get("github")).data == {"sealed": "x"}
    assert await bob.get("github") is None
    assert await bob.connections() == []
    assert [s.id for s in await alice.connections()] == ["github"]


async def test_a_link_is_recorded_once(store_of):
    store = store_of()
    digest = link_digest("nonce")
    assert await store.record_link(digest, {"provider": "github"})
    assert not await store.record_link(digest, {"provider": "github"})
    read = await store.link(digest)
    assert read is not None and read.data == {"provider": "github"}
    assert await store.update_link(digest, {"state": "done"}, read=read)
    assert not await store.update_link(digest, {"state": "again"}, read=read)  # stale read


async def test_the_lease_goes_to_the_first_of_two_writers_that_read_the_same_version(store_of):
    uid = f"u-{uuid.uuid4().hex[:12]}"
    first, second = store_of(uid), store_of(uid)
    await first.put("github", {"sealed": "x"})
    read = await first.get("github")
    assert await first.take_lease("github", 1.0, read=read)
    assert not await second.take_lease("github", 2.0, read=read)
    await first.update("github", {"sealed": "y"}, release_lease=True)
    assert (await first.get("github")).data == {"sealed": "y"}


@pytest.mark.parametrize("bad", ["", "../x", "users/other", "A" * 64])
async def test_a_malformed_provider_is_refused_before_any_read(store_of, bad):
    with pytest.raises((ValueError, McpAuthError)):
        await store_of().get(bad)


@pytest.mark.parametrize("bad", ["", "../x", "users/other", "A" * 64, "0" * 63, "0" * 65, 7])
async def test_a_malformed_link_digest_is_refused_before_any_read(store_of, bad):
    with pytest.raises(ValueError):
        await store_of().link(bad)


@pytest.mark.parametrize("uid", ["", "a/b", "../users"])
def test_a_malformed_uid_is_refused(uid):
    with pytest.raises((ValueError, McpAuthError)):
        UserConnections(lambda: None, uid)  # type: ignore[arg-type, return-value]
