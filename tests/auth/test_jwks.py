"""JwksCache against a real key server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mcp_auth.auth.jwks import JwksCache, parse_key_set
from mcp_auth.errors import ConfigError, InvalidToken, JwksUnavailable
from tests._fixtures.clock import ManualClock
from tests._fixtures.jwks import IssuerServer, SigningKey, make_signing_key


@pytest.fixture
async def cache(
    issuer_server: IssuerServer, rsa_signing_key: SigningKey, clock: ManualClock
) -> AsyncIterator[JwksCache]:
    issuer_server.jwks = {"keys": [rsa_signing_key.public_jwk]}
    async with JwksCache(issuer_server.jwks_url, ttl=300, refresh_cooldown=30, fetch_timeout=2, clock=clock) as c:
        yield c


async def test_keys_are_fetched_once_and_reused_within_ttl(cache: JwksCache, issuer_server: IssuerServer, clock):
    for _ in range(5):
        (key,) = await cache.signing_keys("rsa-1")
        clock.advance(10)
    assert key.kid == "rsa-1" and "RS256" in key.algorithms
    assert issuer_server.fetches() == 1


async def test_key_set_is_refetched_after_ttl(cache: JwksCache, issuer_server: IssuerServer, clock):
    await cache.signing_keys("rsa-1")
    clock.advance(301)
    await cache.signing_keys("rsa-1")
    assert issuer_server.fetches() == 2


async def test_unknown_kid_refreshes_once_per_cooldown(cache: JwksCache, issuer_server: IssuerServer, clock):
    await cache.signing_keys("rsa-1")
    with pytest.raises(InvalidToken, match="unknown 'kid'"):
        await cache.signing_keys("nobody-knows-me")
    assert issuer_server.fetches() == 1  # the first fetch counts: it was within the cooldown
    clock.advance(31)
    for _ in range(3):
        with pytest.raises(InvalidToken, match="unknown 'kid'"):
            await cache.signing_keys("nobody-knows-me")
    assert issuer_server.fetches() == 2  # one refresh for the unknown kid
    clock.advance(31)
    with pytest.raises(InvalidToken):
        await cache.signing_keys("nobody-knows-me")
    assert issuer_server.fetches() == 3


async def test_rotated_key_is_found_by_refreshing_on_its_unknown_kid(
    cache: JwksCache,
    issuer_server: IssuerServer,
    rsa_signing_key: SigningKey,
    ec_signing_key: SigningKey,
    clock,
):
    await cache.signing_keys("rsa-1")
    clock.advance(31)
    issuer_server.jwks = {"keys": [ec_signing_key.public_jwk, rsa_signing_key.public_jwk]}
    (key,) = await cache.signing_keys("ec-1")
    assert key.algorithms == {"ES256"}
    assert issuer_server.fetches() == 2


async def test_last_good_key_set_is_kept_while_the_issuer_fails(cache: JwksCache, issuer_server: IssuerServer, clock):
    await cache.signing_keys("rsa-1")
    issuer_server.mode = "error"
    clock.advance(301)
    (key,) = await cache.signing_keys("rsa-1")
    assert key.kid == "rsa-1"
    assert issuer_server.fetches() == 2
    await cache.signing_keys("rsa-1")  # within the cooldown of the failed attempt: no new fetch
    assert issuer_server.fetches() == 2


async def test_unknown_kid_while_the_issuer_fails_is_jwks_unavailable(
    cache: JwksCache, issuer_server: IssuerServer, clock
):
    await cache.signing_keys("rsa-1")
    issuer_server.mode = "error"
    clock.advance(31)
    with pytest.raises(JwksUnavailable, match="could not be refreshed"):
        await cache.signing_keys("new-key-we-could-not-fetch")
    assert (await cache.signing_keys("rsa-1"))[0].kid == "rsa-1"


async def test_stale_key_set_is_dropped_after_max_stale(issuer_server: IssuerServer, rsa_signing_key, clock):
    issuer_server.jwks = {"keys": [rsa_signing_key.public_jwk]}
    async with JwksCache(issuer_server.jwks_url, ttl=300, max_stale=600, clock=clock) as cache:
        await cache.signing_keys("rsa-1")
        issuer_server.mode = "error"
        clock.advance(901)
        with pytest.raises(JwksUnavailable):
            await cache.signing_keys("rsa-1")


async def test_issuer_down_with_no_key_set_is_jwks_unavailable(down_url: str, clock):
    async with JwksCache(down_url + "/jwks", fetch_timeout=2, clock=clock) as cache:
        with pytest.raises(JwksUnavailable) as raised:
            await cache.signing_keys("rsa-1")
    assert raised.value.status == 503


async def test_slow_jwks_fetch_gives_up_at_its_deadline(issuer_server: IssuerServer, clock):
    issuer_server.mode = "slow"  # the server would hold the request for a minute
    async with JwksCache(issuer_server.jwks_url, fetch_timeout=0.2, clock=clock) as cache:
        with pytest.raises(JwksUnavailable):
            await cache.signing_keys("rsa-1")


async def test_failed_fetch_is_not_retried_within_the_cooldown(issuer_server: IssuerServer, clock):
    issuer_server.mode = "error"
    async with JwksCache(issuer_server.jwks_url, refresh_cooldown=30, clock=clock) as cache:
        for _ in range(3):
            with pytest.raises(JwksUnavailable):
                await cache.signing_keys("rsa-1")
        assert issuer_server.fetches() == 1


async def test_non_json_jwks_is_not_a_key_set(issuer_server: IssuerServer, clock):
    issuer_server.mode = "garbage"
    async with JwksCache(issuer_server.jwks_url, clock=clock) as cache:
        with pytest.raises(JwksUnavailable):
            await cache.signing_keys("rsa-1")


async def test_concurrent_refreshes_share_one_fetch(cache: JwksCache, issuer_server: IssuerServer):
    issuer_server.mode = "gated"
    callers = [asyncio.create_task(cache.signing_keys("rsa-1")) for _ in range(20)]
    assert await asyncio.to_thread(issuer_server.arrived.wait, 10)
    issuer_server.gate.set()
    results = await asyncio.gather(*callers)
    assert {keys[0].kid for keys in results} == {"rsa-1"}
    assert issuer_server.fetches() == 1


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/jwks/../admin",
        "https://attacker.example/jwks.json",
        "http://127.0.0.1:1/evil",
        "rsa-1' OR '1'='1",
        "rsa-1; DROP TABLE keys; --",
        "%2e%2e%2f%2e%2e%2fsecret",
        "rsa-1\x00",
    ],
)
async def test_hostile_kid_is_an_unknown_key_and_reaches_no_url(cache: JwksCache, issuer_server: IssuerServer, kid):
    with pytest.raises(InvalidToken, match="unknown 'kid'"):
        await cache.signing_keys(kid)
    assert set(issuer_server.requests) == {("GET", "/jwks")}


def test_key_set_drops_symmetric_encryption_and_malformed_keys(rsa_signing_key: SigningKey):
    document = {
        "keys": [
            {
                "kty": "oct",
                "kid": "hmac",
                "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
                "alg": "HS256",
            },
            {**rsa_signing_key.public_jwk, "kid": "enc", "use": "enc"},
            {**rsa_signing_key.public_jwk, "kid": "confused", "alg": "HS256"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "EC", "kid": "odd-curve", "crv": "P-192", "x": "AA", "y": "AA"},
            "not a key",
            rsa_signing_key.public_jwk,
        ]
    }
    assert set(parse_key_set(document)) == {"rsa-1"}


def test_key_without_declared_alg_may_verify_its_whole_family():
    key = make_signing_key("rsa", "plain", declare_alg=False)
    (parsed,) = parse_key_set({"keys": [key.public_jwk]})["plain"]
    assert parsed.algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}


def test_key_set_without_usable_keys_is_rejected():
    with pytest.raises(ValueError, match="no usable signing keys"):
        parse_key_set({"keys": [{"kty": "oct", "k": "AAAA"}]})


@pytest.mark.parametrize("url", ["http://issuer.example/jwks", "ftp://127.0.0.1/jwks", "/jwks", "issuer.example"])
def test_jwks_url_must_be_https_except_on_loopback(url: str):
    with pytest.raises(ConfigError, match="https"):
        JwksCache(url)


def test_out_of_range_settings_are_refused():
    with pytest.raises(ConfigError, match="fetch_timeout"):
        JwksCache("https://issuer.example/jwks", fetch_timeout=0)
