"""CachedProvider in front of a real provider (introspection against a loopback server,
so every upstream verification is one recorded POST)."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator

import jwt
import pytest

from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.auth.cache import CachedProvider
from mcp_auth.auth.introspection import IntrospectionProvider
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import ConfigError, InvalidToken, MissingToken
from tests._fixtures.clock import ManualClock
from tests._fixtures.http import bearer
from tests._fixtures.jwks import INTROSPECT_PATH, IssuerServer, claims_for

AUDIENCE = "https://mcp.example.test/mcp"


def issue(server: IssuerServer, *, exp_in: float = 600, active: bool = True) -> str:
    token = secrets.token_urlsafe(32)
    server.tokens[token] = {
        "active": active,
        "aud": AUDIENCE,
        "sub": "user-1",
        "exp": int(time.time() + exp_in),
    }
    return token


@pytest.fixture
async def upstream(issuer_server: IssuerServer) -> AsyncIterator[IntrospectionProvider]:
    async with IntrospectionProvider(
        endpoint=issuer_server.introspection_url,
        client_id=issuer_server.client_id,
        client_secret=issuer_server.client_secret,
        audience=AUDIENCE,
        timeout=5,
    ) as provider:
        yield provider


@pytest.fixture
def cached(upstream: IntrospectionProvider, clock: ManualClock) -> CachedProvider:
    return CachedProvider(upstream, ttl=300, max_entries=100, clock=clock.time)


def calls(server: IssuerServer) -> int:
    return server.fetches("POST", INTROSPECT_PATH)


async def test_repeated_verification_is_served_from_the_cache(cached: CachedProvider, issuer_server: IssuerServer):
    token = issue(issuer_server)
    first = await cached.authenticate(bearer(token))
    second = await cached.authenticate(bearer(token))
    assert second is first
    assert calls(issuer_server) == 1


async def test_different_tokens_are_verified_separately(cached: CachedProvider, issuer_server: IssuerServer):
    for _ in range(3):
        await cached.authenticate(bearer(issue(issuer_server)))
    assert calls(issuer_server) == 3


async def test_failures_are_never_cached(cached: CachedProvider, issuer_server: IssuerServer):
    token = issue(issuer_server, active=False)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 2
    issuer_server.tokens[token]["active"] = True
    assert (await cached.authenticate(bearer(token))).user_id == "user-1"


async def test_entry_lives_no_longer_than_the_token(cached, issuer_server: IssuerServer, clock: ManualClock):
    token = issue(issuer_server, exp_in=60)
    await cached.authenticate(bearer(token))
    clock.advance(59)
    await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 1
    clock.advance(2)
    await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 2


async def test_entry_lives_no_longer_than_the_ttl(cached, issuer_server: IssuerServer, clock: ManualClock):
    token = issue(issuer_server, exp_in=3600)
    await cached.authenticate(bearer(token))
    clock.advance(299)
    await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 1
    clock.advance(2)
    await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 2


async def test_token_already_past_its_exp_is_not_cached(cached: CachedProvider, issuer_server: IssuerServer):
    token = issue(issuer_server, exp_in=-5)  # still accepted upstream thanks to the leeway
    for _ in range(2):
        await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 2


async def test_least_recently_used_entry_is_evicted_first(upstream, issuer_server: IssuerServer, clock):
    cached = CachedProvider(upstream, max_entries=2, clock=clock.time)
    a, b, c = (issue(issuer_server) for _ in range(3))
    for token in (a, b, a, c):  # c evicts b, the least recently used
        await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 3
    await cached.authenticate(bearer(a))
    assert calls(issuer_server) == 3
    await cached.authenticate(bearer(b))
    assert calls(issuer_server) == 4
    assert len(cached) == 2


async def test_concurrent_verifications_of_one_token_share_one_upstream_call(
    cached: CachedProvider, issuer_server: IssuerServer
):
    token = issue(issuer_server)
    issuer_server.mode = "gated"
    callers = [asyncio.create_task(cached.authenticate(bearer(token))) for _ in range(20)]
    assert await asyncio.to_thread(issuer_server.arrived.wait, 10)
    issuer_server.gate.set()
    principals = await asyncio.gather(*callers)
    assert {p.user_id for p in principals} == {"user-1"}
    assert calls(issuer_server) == 1


async def test_a_shared_failure_reaches_every_caller_and_is_not_cached(
    cached: CachedProvider, issuer_server: IssuerServer
):
    token = issue(issuer_server, active=False)
    issuer_server.mode = "gated"
    callers = [asyncio.create_task(cached.authenticate(bearer(token))) for _ in range(5)]
    assert await asyncio.to_thread(issuer_server.arrived.wait, 10)
    issuer_server.gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, InvalidToken) for r in results)
    assert calls(issuer_server) == 1
    with pytest.raises(InvalidToken):
        await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_call(cached: CachedProvider, issuer_server: IssuerServer):
    token = issue(issuer_server)
    issuer_server.mode = "gated"
    impatient = asyncio.create_task(cached.authenticate(bearer(token)))
    patient = asyncio.create_task(cached.authenticate(bearer(token)))
    assert await asyncio.to_thread(issuer_server.arrived.wait, 10)
    impatient.cancel()
    issuer_server.gate.set()
    assert (await patient).user_id == "user-1"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert calls(issuer_server) == 1


async def test_cache_keys_are_hashes_not_tokens(cached: CachedProvider, issuer_server: IssuerServer):
    token = issue(issuer_server)
    await cached.authenticate(bearer(token))
    keys = list(cached._entries.keys())
    assert len(keys) == 1 and len(keys[0]) == 32
    assert token.encode()[:16] not in keys[0]


async def test_jwt_verification_is_cached_too():
    key = os.urandom(32)
    provider = JwtProvider(issuer="https://issuer.test", audience=AUDIENCE, hs_keys=[key])
    cached = CachedProvider(provider)
    token = jwt.encode(claims_for("https://issuer.test", AUDIENCE), key, algorithm="HS256")
    first = await cached.authenticate(bearer(token))
    assert await cached.authenticate(bearer(token)) is first
    assert await cached.authenticate(Credentials(bearer=token, api_key="other")) is not first


async def test_no_credential_goes_straight_to_the_provider(cached: CachedProvider):
    with pytest.raises(MissingToken):
        await cached.authenticate(Credentials())


def test_wrapper_keeps_the_providers_name_and_choices(cached: CachedProvider, upstream: IntrospectionProvider):
    assert isinstance(cached, AuthProvider)
    assert cached.name == upstream.name
    assert cached.accepts(bearer("opaque")) and not cached.accepts(bearer("mak_1_2"))


@pytest.mark.parametrize(
    ("settings", "match"), [({"ttl": 0}, "ttl"), ({"ttl": 7200}, "ttl"), ({"max_entries": 0}, "max_entries")]
)
def test_bad_settings_are_refused(upstream: IntrospectionProvider, settings, match: str):
    with pytest.raises(ConfigError, match=match):
        CachedProvider(upstream, **settings)


def test_only_providers_can_be_wrapped():
    with pytest.raises(ConfigError, match="wraps an auth provider"):
        CachedProvider(object())  # type: ignore[arg-type]


def issue_for(server: IssuerServer, sub: str) -> str:
    token = issue(server)
    server.tokens[token]["sub"] = sub
    return token


async def test_forgetting_a_user_drops_only_that_users_verifications(
    cached: CachedProvider, issuer_server: IssuerServer
):
    mine, theirs = issue_for(issuer_server, "user-1"), issue_for(issuer_server, "user-2")
    for token in (mine, theirs):
        await cached.authenticate(bearer(token))
    assert calls(issuer_server) == 2
    cached.forget_user("user-1")
    assert len(cached) == 1
    await cached.authenticate(bearer(theirs))
    assert calls(issuer_server) == 2  # still cached
    await cached.authenticate(bearer(mine))
    assert calls(issuer_server) == 3  # asked the issuer again
    cached.forget_user(None)
    assert len(cached) == 0


async def test_a_verification_in_flight_when_its_user_is_forgotten_is_not_kept(
    cached: CachedProvider, issuer_server: IssuerServer
):
    token = issue_for(issuer_server, "user-1")
    issuer_server.mode = "gated"
    flight = asyncio.ensure_future(cached.authenticate(bearer(token)))
    assert await asyncio.to_thread(issuer_server.arrived.wait, 10)
    cached.forget_user("user-1")  # the record changed while the issuer was being asked
    issuer_server.gate.set()
    assert (await flight).user_id == "user-1"  # this request was already under way: it is served
    assert len(cached) == 0  # but what it learnt is not trusted by the next one
