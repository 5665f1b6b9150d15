"""JwtProvider: HS keys and JWKS keys, claims, configuration and hostile tokens."""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import (
    ConfigError,
    ExpiredToken,
    InvalidToken,
    JwksUnavailable,
    MissingToken,
    WrongAudience,
)
from tests._fixtures.jwks import IssuerServer, SigningKey, b64url, claims_for, make_signing_key

ISSUER = "https://issuer.test"
AUDIENCE = "https://mcp.example.test/mcp"


def bearer(token: str) -> Credentials:
    return Credentials(bearer=token)


def claims(**overrides: Any) -> dict[str, Any]:
    return claims_for(ISSUER, AUDIENCE, **overrides)


def hs_token(key: bytes, alg: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=alg)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)]
    )


async def rejected(provider: JwtProvider, token: str, error: type[Exception], match: str) -> Exception:
    """Assert the token is refused with this exact error type; its message never echoes the token."""
    with pytest.raises(error, match=match) as raised:
        await provider.authenticate(bearer(token))
    assert type(raised.value) is error
    for segment in token.split("."):
        if len(segment) > 8:
            assert segment not in str(raised.value)
    return raised.value


@pytest.fixture
def published(issuer_server: IssuerServer, rsa_signing_key, ec_signing_key, ed_signing_key) -> IssuerServer:
    issuer_server.jwks = {"keys": [k.public_jwk for k in (rsa_signing_key, ec_signing_key, ed_signing_key)]}
    return issuer_server


@pytest.fixture
async def jwks(published: IssuerServer) -> AsyncIterator[JwksCache]:
    async with JwksCache(published.jwks_url, fetch_timeout=2, refresh_cooldown=0) as cache:
        yield cache


@pytest.fixture
def provider(jwks: JwksCache, hs_keys: list[bytes]) -> JwtProvider:
    return JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, jwks=jwks)


@pytest.fixture
def jwks_only(jwks: JwksCache) -> JwtProvider:
    return JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)


# --- tokens that verify -------------------------------------------------------------------------


@pytest.mark.parametrize("key_fixture", ["rsa_signing_key", "ec_signing_key", "ed_signing_key"])
async def test_asymmetric_token_from_the_jwks_verifies(provider: JwtProvider, key_fixture: str, request):
    key: SigningKey = request.getfixturevalue(key_fixture)
    token_claims = claims()
    principal = await provider.authenticate(bearer(key.sign(token_claims)))
    assert principal.user_id == "user-1"
    assert principal.auth_method == "jwt"
    assert principal.scopes == {"tools:read", "tools:write"}
    assert principal.client_id == "client-1"
    assert principal.expires_at == token_claims["exp"]
    assert principal.claims["iss"] == ISSUER


async def test_ps256_token_verifies_with_an_rsa_key_that_declares_no_alg(issuer_server: IssuerServer):
    key = make_signing_key("rsa", "rsa-plain", alg="PS256", declare_alg=False)
    issuer_server.jwks = {"keys": [key.public_jwk]}
    async with JwksCache(issuer_server.jwks_url) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        principal = await provider.authenticate(bearer(key.sign(claims())))
    assert principal.user_id == "user-1"


async def test_rs256_token_is_refused_for_a_key_that_declares_ps256(issuer_server: IssuerServer):
    key = make_signing_key("rsa", "rsa-ps", alg="PS256")
    issuer_server.jwks = {"keys": [key.public_jwk]}
    token = jwt.encode(claims(), key.private, algorithm="RS256", headers={"kid": key.kid})
    async with JwksCache(issuer_server.jwks_url) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        await rejected(provider, token, InvalidToken, "cannot verify RS256")


async def test_hs_token_verifies_with_either_rotation_key(provider: JwtProvider, hs_keys: list[bytes]):
    for key in hs_keys:
        principal = await provider.authenticate(bearer(hs_token(key)))
        assert principal.user_id == "user-1"


async def test_hs_token_signed_with_a_retired_key_is_refused(provider: JwtProvider):
    await rejected(provider, hs_token(os.urandom(32)), InvalidToken, "signature does not verify")


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
async def test_longer_hmac_algorithms_verify_with_long_enough_keys(alg: str):
    key = os.urandom(64)
    provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=[key])
    assert (await provider.authenticate(bearer(hs_token(key, alg)))).user_id == "user-1"


async def test_hs512_token_is_refused_when_every_key_is_too_short_for_it():
    key = os.urandom(32)
    provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=[key])
    token = jwt.encode(claims(), os.urandom(64), algorithm="HS512")
    await rejected(provider, token, InvalidToken, "long enough for HS512")


async def test_scopes_come_from_scp_list_and_client_from_azp(provider: JwtProvider, hs_keys):
    token = hs_token(hs_keys[0], scope=None, client_id=None, scp=["a", "b"], azp="client-2")
    principal = await provider.authenticate(bearer(token))
    assert principal.scopes == {"a", "b"}
    assert principal.client_id == "client-2"


async def test_scopes_come_from_scp_string(provider: JwtProvider, hs_keys):
    principal = await provider.authenticate(bearer(hs_token(hs_keys[0], scope=None, scp="a b")))
    assert principal.scopes == {"a", "b"}


async def test_scope_claim_of_the_wrong_type_is_refused(provider: JwtProvider, hs_keys):
    await rejected(provider, hs_token(hs_keys[0], scope=["a"]), InvalidToken, "'scope' claim")


async def test_user_id_comes_from_the_configured_claim(hs_keys):
    provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, user_id_claim="oid")
    principal = await provider.authenticate(bearer(hs_token(hs_keys[0], oid="object-7")))
    assert principal.user_id == "object-7"
    await rejected(provider, hs_token(hs_keys[0]), InvalidToken, "'oid' claim is missing")


async def test_token_for_one_of_several_audiences_verifies(hs_keys):
    provider = JwtProvider(issuer=ISSUER, audience=[AUDIENCE, "https://other.test/mcp"], hs_keys=hs_keys)
    token = hs_token(hs_keys[0], aud=["https://other.test/mcp", "https://unrelated.test"])
    assert (await provider.authenticate(bearer(token))).user_id == "user-1"


async def test_recently_expired_token_is_accepted_within_the_leeway(hs_keys):
    token = hs_token(hs_keys[0], exp=int(time.time()) - 10)
    lenient = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, leeway=60)
    strict = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, leeway=0)
    assert (await lenient.authenticate(bearer(token))).user_id == "user-1"
    await rejected(strict, token, ExpiredToken, "expired")


async def test_new_jwks_key_is_picked_up_after_rotation(published: IssuerServer, jwks_only, rsa_signing_key):
    old_token = rsa_signing_key.sign(claims())
    await jwks_only.authenticate(bearer(old_token))
    new_key = make_signing_key("ec", "ec-rotated")
    published.jwks = {"keys": [new_key.public_jwk, rsa_signing_key.public_jwk]}
    assert (await jwks_only.authenticate(bearer(new_key.sign(claims())))).user_id == "user-1"
    assert (await jwks_only.authenticate(bearer(old_token))).user_id == "user-1"
    assert published.fetches() == 2


# --- which credentials the provider takes -------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (Credentials(bearer="aaa.bbb.ccc"), True),
        (Credentials(bearer="mak_abc.def.ghi"), False),
        (Credentials(bearer="opaque-token-without-dots"), False),
        (Credentials(api_key="aaa.bbb.ccc"), False),
        (Credentials(), False),
    ],
)
def test_accepts_only_jwt_shaped_bearer_tokens(
    provider: JwtProvider, credentials: Credentials, expected: bool
):
    assert provider.accepts(credentials) is expected


async def test_no_bearer_token_is_missing_token(provider: JwtProvider):
    with pytest.raises(MissingToken):
        await provider.authenticate(Credentials(api_key="mak_x_y"))


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"issuer": None}, "needs issuer"),
        ({"issuer": ""}, "needs issuer"),
        ({"audience": None}, "needs audience"),
        ({"audience": []}, "needs audience"),
        ({"audience": [""]}, "needs audience"),
        ({"hs_keys": None}, "needs a key source"),
        ({"hs_keys": [b"short"]}, "at least 32"),
        ({"hs_keys": ["a string key" * 4]}, "must be bytes"),
        ({"hs_keys": b"x" * 32}, "list of keys"),
        ({"hs_keys": [b"-----BEGIN PUBLIC KEY-----" + b"A" * 64]}, "public/private key"),
        ({"leeway": 61}, "leeway"),
        ({"leeway": -1}, "leeway"),
        ({"hs_algorithms": ["none"]}, "hs_algorithms"),
        ({"hs_algorithms": ["RS256"]}, "hs_algorithms"),
        ({"jwks_algorithms": ["HS256"]}, "jwks_algorithms"),
        ({"user_id_claim": ""}, "user_id_claim"),
        ({"max_token_bytes": 10**9}, "max_token_bytes"),
    ],
)
def test_bad_configuration_is_refused_naming_the_setting(settings: dict[str, Any], match: str):
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "hs_keys": [os.urandom(32)],
        **settings,
    }
    with pytest.raises(ConfigError, match=match):
        JwtProvider(**arguments)


# --- hostile tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(provider: JwtProvider, alg: str):
    token = unsigned({"alg": alg, "typ": "JWT"}, claims())
    await rejected(provider, token, InvalidToken, "not accepted")


async def test_hs256_token_signed_with_the_rsa_public_key_is_refused(
    provider: JwtProvider, jwks_only: JwtProvider, rsa_signing_key: SigningKey
):
    pem = rsa_signing_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_signing_key.kid}).encode())
    payload = b64url(json.dumps(claims(sub="admin")).encode())
    signature = hmac.digest(pem, f"{header}.{payload}".encode(), "sha256")
    token = f"{header}.{payload}.{b64url(signature)}"
    await rejected(provider, token, InvalidToken, "signature does not verify")
    await rejected(jwks_only, token, InvalidToken, "'HS256' are not accepted")


async def test_tampered_payload_is_refused(provider: JwtProvider, rsa_signing_key: SigningKey, hs_keys):
    for token in (rsa_signing_key.sign(claims()), hs_token(hs_keys[0])):
        header, _, signature = token.split(".")
        forged = b64url(json.dumps(claims(sub="admin", scope="admin")).encode())
        await rejected(provider, f"{header}.{forged}.{signature}", InvalidToken, "signature does not verify")


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "https://attacker.example/jwks.json",
        "1' OR '1'='1",
        "rsa-1; DROP TABLE keys; --",
        "%2e%2e%2fjwks",
    ],
)
async def test_tampered_header_kid_is_an_unknown_key(
    provider: JwtProvider, published: IssuerServer, rsa_signing_key: SigningKey, kid: str
):
    _, payload, signature = rsa_signing_key.sign(claims()).split(".")
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    await rejected(provider, f"{header}.{payload}.{signature}", InvalidToken, "unknown 'kid'")
    assert set(published.requests) == {("GET", "/jwks")}


async def test_token_from_an_unpublished_key_is_an_unknown_key(provider: JwtProvider):
    rogue = make_signing_key("ec", "rogue")
    await rejected(provider, rogue.sign(claims()), InvalidToken, "unknown 'kid'")


async def test_key_urls_and_embedded_keys_in_the_header_are_ignored(
    provider: JwtProvider, published: IssuerServer, rsa_signing_key: SigningKey
):
    rogue = make_signing_key("ec", rsa_signing_key.kid, alg="ES256")
    headers = {
        "kid": rsa_signing_key.kid,
        "jku": published.base_url + "/attacker-jwks",
        "x5u": published.base_url + "/attacker-cert",
        "jwk": rogue.public_jwk,
    }
    token = jwt.encode(claims(), rogue.private, algorithm="ES256", headers=headers)
    await rejected(provider, token, InvalidToken, "cannot verify ES256")
    assert set(published.requests) == {("GET", "/jwks")}


async def test_es256_header_on_an_rsa_key_is_refused(provider: JwtProvider, ec_signing_key: SigningKey):
    token = jwt.encode(claims(), ec_signing_key.private, algorithm="ES256", headers={"kid": "rsa-1"})
    await rejected(provider, token, InvalidToken, "cannot verify ES256")


async def test_algorithm_not_enabled_for_the_jwks_is_refused(
    provider: JwtProvider, rsa_signing_key: SigningKey
):
    token = jwt.encode(claims(), rsa_signing_key.private, algorithm="RS512", headers={"kid": "rsa-1"})
    await rejected(provider, token, InvalidToken, "'RS512' are not accepted")


async def test_expired_token_is_expired_token(provider: JwtProvider, rsa_signing_key: SigningKey):
    now = int(time.time())
    await rejected(
        provider,
        rsa_signing_key.sign(claims(iat=now - 7200, nbf=None, exp=now - 3600)),
        ExpiredToken,
        "expired",
    )


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_token_valid_only_in_the_future_is_refused(provider: JwtProvider, hs_keys, claim: str):
    now = int(time.time())
    token = hs_token(hs_keys[0], **{claim: now + 3600, "exp": now + 7200})
    await rejected(provider, token, InvalidToken, "not valid yet")


async def test_wrong_issuer_is_refused(provider: JwtProvider, rsa_signing_key: SigningKey):
    await rejected(provider, rsa_signing_key.sign(claims(iss="https://evil.test")), InvalidToken, "issuer")


async def test_wrong_audience_is_wrong_audience(provider: JwtProvider, rsa_signing_key: SigningKey):
    token = rsa_signing_key.sign(claims(aud="https://other-server.test/mcp"))
    await rejected(provider, token, WrongAudience, "another resource")


async def test_missing_audience_is_wrong_audience(provider: JwtProvider, rsa_signing_key: SigningKey):
    await rejected(provider, rsa_signing_key.sign(claims(aud=None)), WrongAudience, "no audience")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"sub": None}, "no subject"),
        ({"sub": ""}, "no subject"),
        ({"sub": 12345}, "Subject must be a string"),
        ({"exp": None}, "no 'exp' claim"),
        ({"iss": None}, "no 'iss' claim"),
    ],
)
async def test_missing_or_bad_required_claim_is_refused(provider: JwtProvider, hs_keys, overrides, match):
    await rejected(provider, hs_token(hs_keys[0], **overrides), InvalidToken, match)


async def test_oversized_token_is_refused_before_parsing(provider: JwtProvider, hs_keys):
    token = hs_token(hs_keys[0], padding="x" * 9000)
    assert len(token) > 8192
    await rejected(provider, token, InvalidToken, "larger than 8192")
    garbage = "a" * 5000 + "." + "b" * 5000 + ".c"
    await rejected(provider, garbage, InvalidToken, "larger than 8192")


@pytest.mark.parametrize(
    "token",
    [
        "abc!.def.ghi",
        "eyJhbGciOiJIUzI1NiJ9.%%%%.sig",
        "....",
        "only-one-segment",
        "a.b",
        "e30.e30.e30.e30",
        b64url(b"\xff\xfe\x00") + ".e30.c2ln",
    ],
)
async def test_malformed_base64_is_refused(provider: JwtProvider, token: str):
    await rejected(provider, token, InvalidToken, "malformed")


async def test_non_ascii_token_is_refused(provider: JwtProvider):
    await rejected(provider, "eyJ.é.x", InvalidToken, "not ASCII")


async def test_non_json_header_is_refused(provider: JwtProvider, hs_keys):
    _, payload, signature = hs_token(hs_keys[0]).split(".")
    await rejected(provider, f"{b64url(b'not json at all')}.{payload}.{signature}", InvalidToken, "malformed")
    await rejected(provider, f"{b64url(b'[1,2,3]')}.{payload}.{signature}", InvalidToken, "malformed")


@pytest.mark.parametrize("body", [b"not json at all", b"[1, 2, 3]", b'"a string"'])
async def test_non_json_payload_is_refused_even_when_signed(provider: JwtProvider, hs_keys, body: bytes):
    token = jwt.api_jws.encode(body, hs_keys[0], algorithm="HS256")
    await rejected(provider, token, InvalidToken, "malformed")


@pytest.mark.parametrize("header", [{"alg": "HS256", "kid": 7}, {"alg": ["HS256"]}, {"typ": "JWT"}])
async def test_header_with_fields_of_the_wrong_type_is_refused(provider: JwtProvider, header: dict[str, Any]):
    await rejected(provider, unsigned(header, claims(), b"sig"), InvalidToken, "malformed")


async def test_unknown_critical_header_is_refused(provider: JwtProvider, hs_keys):
    token = jwt.encode(claims(), hs_keys[0], algorithm="HS256", headers={"crit": ["exp"], "exp": 1})
    await rejected(provider, token, InvalidToken, "critical extension")


async def test_jwks_down_is_jwks_unavailable(down_url: str, rsa_signing_key: SigningKey):
    async with JwksCache(down_url + "/jwks", fetch_timeout=2) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        await rejected(provider, rsa_signing_key.sign(claims()), JwksUnavailable, "could not be fetched")


async def test_slow_jwks_is_jwks_unavailable_without_hanging(issuer_server: IssuerServer, rsa_signing_key):
    issuer_server.mode = "slow"
    async with JwksCache(issuer_server.jwks_url, fetch_timeout=0.2) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        error = await rejected(
            provider, rsa_signing_key.sign(claims()), JwksUnavailable, "could not be fetched"
        )
    assert error.status == 503


async def test_hs_tokens_still_verify_while_the_jwks_is_down(down_url: str, hs_keys):
    async with JwksCache(down_url + "/jwks", fetch_timeout=2) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, jwks=cache)
        assert (await provider.authenticate(bearer(hs_token(hs_keys[1])))).user_id == "user-1"
