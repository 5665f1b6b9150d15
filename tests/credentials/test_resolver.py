"""The resolver: cache per (user, provider), expiry, negative cache, shared misses, version checks."""

from __future__ import annotations

import asyncio

import pytest

from mcp_auth.credentials import CredentialNotConnected
from mcp_auth.errors import ConfigError


async def test_each_user_gets_their_own_token(fake_platform, resolver, uid):
    alice, bob = uid(), uid()
    a, b = fake_platform.connect(alice, "github"), fake_platform.connect(bob, "github")
    r = resolver()
    assert (await r.resolve(alice, "github")).access_token == a
    assert (await r.resolve(bob, "github")).access_token == b
    assert (await r.resolve(alice, "github")).access_token == a


async def test_a_credential_is_cached_for_the_ttl(fake_platform, resolver, uid, clock):
    alice = uid()
    fake_platform.connect(alice, "github")
    r = resolver(ttl=300)
    for _ in range(3):
        await r.resolve(alice, "github")
    assert fake_platform.hits(alice, "github") == 1
    clock.advance(299)
    await r.resolve(alice, "github")
    assert fake_platform.hits(alice, "github") == 1
    clock.advance(2)
    await r.resolve(alice, "github")
    assert fake_platform.hits(alice, "github") == 2


async def test_the_cache_never_outlives_the_credentials_expiry(fake_platform, resolver, uid, clock):
    alice = uid()
    fake_platform.connect(alice, "github", expires_at=clock.wall + 100)
    r = resolver(ttl=300, expiry_margin=30)
    await r.resolve(alice, "github")
    clock.advance(69)
    await r.resolve(alice, "github")
    assert fake_platform.hits(alice, "github") == 1
    clock.advance(2)  # within the margin before expiry: ask again
    fresh = fake_platform.connect(alice, "github", expires_at=clock.wall + 3600)
    assert (await r.resolve(alice, "github")).access_token == fresh
    assert fake_platform.hits(alice, "github") == 2


async def test_an_already_expired_credential_reads_as_an_expired_connection(fake_platform, resolver, uid, clock):
    alice = uid()
    fake_platform.connect(alice, "github", expires_at=clock.wall - 1)
    with pytest.raises(CredentialNotConnected, match="expired"):
        await resolver().resolve(alice, "github", display_name="GitHub")


async def test_not_connected_is_cached_briefly_and_names_where_to_connect(fake_platform, resolver, uid, clock):
    alice = uid()
    r = resolver(negative_ttl=30)
    with pytest.raises(CredentialNotConnected) as caught:
        await r.resolve(alice, "github", display_name="GitHub")
    assert caught.value.message == (
        f"Your GitHub account is not connected: connect GitHub at {fake_platform.url}/connect/github, then try again."
    )
    fake_platform.connect(alice, "github")
    with pytest.raises(CredentialNotConnected):
        await r.resolve(alice, "github")
    assert fake_platform.hits(alice, "github") == 1
    clock.advance(31)
    await r.resolve(alice, "github")
    assert fake_platform.hits(alice, "github") == 2


async def test_concurrent_misses_share_one_platform_request(fake_platform, resolver, uid):
    alice = uid()
    token = fake_platform.connect(alice, "github")
    r = resolver()
    fake_platform.hold()
    calls = [asyncio.ensure_future(r.resolve(alice, "github")) for _ in range(20)]
    while fake_platform.held == 0:
        await asyncio.sleep(0.01)
    fake_platform.release()
    results = await asyncio.gather(*calls)
    assert {c.access_token for c in results} == {token}
    assert fake_platform.hits(alice, "github") == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_request(fake_platform, resolver, uid):
    alice = uid()
    fake_platform.connect(alice, "github")
    r = resolver()
    fake_platform.hold()
    first = asyncio.ensure_future(r.resolve(alice, "github"))
    second = asyncio.ensure_future(r.resolve(alice, "github"))
    while fake_platform.held == 0:
        await asyncio.sleep(0.01)
    first.cancel()
    fake_platform.release()
    assert (await second).user_id == alice
    assert fake_platform.hits(alice, "github") == 1


async def test_a_bumped_version_makes_the_next_use_refetch(fake_platform, resolver, versions, uid):
    alice = uid()
    old = fake_platform.connect(alice, "github")
    r = resolver()
    assert (await r.resolve(alice, "github")).access_token == old
    new = fake_platform.connect(alice, "github")
    assert await versions.bump(alice, "github", event_id="evt-1")
    assert (await r.resolve(alice, "github")).access_token == new
    assert fake_platform.hits(alice, "github") == 2


async def test_a_bumped_version_clears_a_cached_not_connected(fake_platform, resolver, versions, uid):
    alice = uid()
    r = resolver(negative_ttl=300)
    with pytest.raises(CredentialNotConnected):
        await r.resolve(alice, "github")
    token = fake_platform.connect(alice, "github")
    await versions.bump(alice, "github", event_id="evt-connect")
    assert (await r.resolve(alice, "github")).access_token == token


async def test_the_cache_is_bounded(fake_platform, resolver, uid):
    users = [uid() for _ in range(5)]
    for user in users:
        fake_platform.connect(user, "github")
    r = resolver(max_size=3)
    for user in users:
        await r.resolve(user, "github")
    await r.resolve(users[0], "github")  # evicted: fetched again
    assert fake_platform.hits(users[0], "github") == 2
    await r.resolve(users[4], "github")  # still cached
    assert fake_platform.hits(users[4], "github") == 1


@pytest.mark.parametrize("user, provider", [("../x", "github"), ("alice", "Git Hub"), ("alice", "")])
async def test_bad_user_ids_and_provider_names_are_refused_before_any_call(fake_platform, resolver, user, provider):
    from mcp_auth.errors import McpAuthError

    with pytest.raises((ConfigError, McpAuthError)):
        await resolver().resolve(user, provider)
    assert fake_platform.requests == []
