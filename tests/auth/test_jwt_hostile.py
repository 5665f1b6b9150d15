"""JwtProvider against hostile tokens: each refused with its specific error."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import (
    ExpiredToken,
    InvalidToken,
    JwksUnavailable,
    WrongAudience,
)
from tests._fixtures.http import bearer
from tests._fixtures.jwks import (
    AUDIENCE,
    ISSUER,
    IssuerServer,
    SigningKey,
    assert_rejected,
    b64url,
    hs_token,
    jwt_claims,
    make_signing_key,
    unsigned,
)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", 'none", error="injected\r\nX-Evil: 1'])
async def test_alg_none_is_refused(jwt_provider: JwtProvider, alg: str):
    token = unsigned({"alg": alg, "typ": "JWT"}, jwt_claims())
    error = await assert_rejected(jwt_provider, token, InvalidToken, "not accepted")
    assert '"' not in str(error) and "\n" not in str(error)  # safe to put in a WWW-Authenticate header


async def test_hs256_token_signed_with_the_rsa_public_key_is_refused(
    jwt_provider: JwtProvider, jwks_only_provider: JwtProvider, rsa_signing_key: SigningKey
):
    pem = rsa_signing_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": rsa_signing_key.kid}).encode())
    payload = b64url(json.dumps(jwt_claims(sub="admin")).encode())
    signature = hmac.digest(pem, f"{header}.{payload}".encode(), "sha256")
    token = f"{header}.{payload}.{b64url(signature)}"
    await assert_rejected(jwt_provider, token, InvalidToken, "signature does not verify")
    await assert_rejected(jwks_only_provider, token, InvalidToken, "'HS256' are not accepted")


async def test_tampered_payload_is_refused(jwt_provider: JwtProvider, rsa_signing_key: SigningKey, hs_keys):
    for token in (rsa_signing_key.sign(jwt_claims()), hs_token(hs_keys[0])):
        header, _, signature = token.split(".")
        forged = b64url(json.dumps(jwt_claims(sub="admin", scope="admin")).encode())
        await assert_rejected(jwt_provider, f"{header}.{forged}.{signature}", InvalidToken, "signature does not verify")


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
    jwt_provider: JwtProvider, published_jwks: IssuerServer, rsa_signing_key: SigningKey, kid: str
):
    _, payload, signature = rsa_signing_key.sign(jwt_claims()).split(".")
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    await assert_rejected(jwt_provider, f"{header}.{payload}.{signature}", InvalidToken, "unknown 'kid'")
    assert set(published_jwks.requests) == {("GET", "/jwks")}


async def test_token_from_an_unpublished_key_is_an_unknown_key(jwt_provider: JwtProvider):
    rogue = make_signing_key("ec", "rogue")
    await assert_rejected(jwt_provider, rogue.sign(jwt_claims()), InvalidToken, "unknown 'kid'")


async def test_key_urls_and_embedded_keys_in_the_header_are_ignored(
    jwt_provider: JwtProvider, published_jwks: IssuerServer, rsa_signing_key: SigningKey
):
    rogue = make_signing_key("ec", rsa_signing_key.kid, alg="ES256")
    headers = {
        "kid": rsa_signing_key.kid,
        "jku": published_jwks.base_url + "/attacker-jwks",
        "x5u": published_jwks.base_url + "/attacker-cert",
        "jwk": rogue.public_jwk,
    }
    token = jwt.encode(jwt_claims(), rogue.private, algorithm="ES256", headers=headers)
    await assert_rejected(jwt_provider, token, InvalidToken, "cannot verify ES256")
    assert set(published_jwks.requests) == {("GET", "/jwks")}


async def test_es256_header_on_an_rsa_key_is_refused(jwt_provider: JwtProvider, ec_signing_key: SigningKey):
    token = jwt.encode(jwt_claims(), ec_signing_key.private, algorithm="ES256", headers={"kid": "rsa-1"})
    await assert_rejected(jwt_provider, token, InvalidToken, "cannot verify ES256")


async def test_algorithm_not_enabled_for_the_jwks_is_refused(jwt_provider: JwtProvider, rsa_signing_key: SigningKey):
    token = jwt.encode(jwt_claims(), rsa_signing_key.private, algorithm="RS512", headers={"kid": "rsa-1"})
    await assert_rejected(jwt_provider, token, InvalidToken, "'RS512' are not accepted")


async def test_expired_token_is_expired_token(jwt_provider: JwtProvider, rsa_signing_key: SigningKey):
    now = int(time.time())
    await assert_rejected(
        jwt_provider,
        rsa_signing_key.sign(jwt_claims(iat=now - 7200, nbf=None, exp=now - 3600)),
        ExpiredToken,
        "expired",
    )


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_token_valid_only_in_the_future_is_refused(jwt_provider: JwtProvider, hs_keys, claim: str):
    now = int(time.time())
    token = hs_token(hs_keys[0], **{claim: now + 3600, "exp": now + 7200})
    await assert_rejected(jwt_provider, token, InvalidToken, "not valid yet")


async def test_wrong_issuer_is_refused(jwt_provider: JwtProvider, rsa_signing_key: SigningKey):
    await assert_rejected(
        jwt_provider, rsa_signing_key.sign(jwt_claims(iss="https://evil.test")), InvalidToken, "issuer"
    )


async def test_wrong_audience_is_wrong_audience(jwt_provider: JwtProvider, rsa_signing_key: SigningKey):
    token = rsa_signing_key.sign(jwt_claims(aud="https://other-server.test/mcp"))
    await assert_rejected(jwt_provider, token, WrongAudience, "another resource")


async def test_missing_audience_is_wrong_audience(jwt_provider: JwtProvider, rsa_signing_key: SigningKey):
    await assert_rejected(jwt_provider, rsa_signing_key.sign(jwt_claims(aud=None)), WrongAudience, "no audience")


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
async def test_missing_or_bad_required_claim_is_refused(jwt_provider: JwtProvider, hs_keys, overrides, match):
    await assert_rejected(jwt_provider, hs_token(hs_keys[0], **overrides), InvalidToken, match)


async def test_oversized_token_is_refused_before_parsing(jwt_provider: JwtProvider, hs_keys):
    token = hs_token(hs_keys[0], padding="x" * 9000)
    assert len(token) > 8192
    await assert_rejected(jwt_provider, token, InvalidToken, "larger than 8192")
    garbage = "a" * 5000 + "." + "b" * 5000 + ".c"
    await assert_rejected(jwt_provider, garbage, InvalidToken, "larger than 8192")


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
async def test_malformed_base64_is_refused(jwt_provider: JwtProvider, token: str):
    await assert_rejected(jwt_provider, token, InvalidToken, "malformed")


async def test_non_ascii_token_is_refused(jwt_provider: JwtProvider):
    await assert_rejected(jwt_provider, "eyJ.é.x", InvalidToken, "not ASCII")


async def test_non_json_header_is_refused(jwt_provider: JwtProvider, hs_keys):
    _, payload, signature = hs_token(hs_keys[0]).split(".")
    await assert_rejected(
        jwt_provider, f"{b64url(b'not json at all')}.{payload}.{signature}", InvalidToken, "malformed"
    )
    await assert_rejected(jwt_provider, f"{b64url(b'[1,2,3]')}.{payload}.{signature}", InvalidToken, "malformed")


@pytest.mark.parametrize("body", [b"not json at all", b"[1, 2, 3]", b'"a string"'])
async def test_non_json_payload_is_refused_even_when_signed(jwt_provider: JwtProvider, hs_keys, body: bytes):
    token = jwt.api_jws.encode(body, hs_keys[0], algorithm="HS256")
    await assert_rejected(jwt_provider, token, InvalidToken, "malformed")


@pytest.mark.parametrize("header", [{"alg": "HS256", "kid": 7}, {"alg": ["HS256"]}, {"typ": "JWT"}])
async def test_header_with_fields_of_the_wrong_type_is_refused(jwt_provider: JwtProvider, header: dict[str, Any]):
    await assert_rejected(jwt_provider, unsigned(header, jwt_claims(), b"sig"), InvalidToken, "malformed")


async def test_unknown_critical_header_is_refused(jwt_provider: JwtProvider, hs_keys):
    token = jwt.encode(jwt_claims(), hs_keys[0], algorithm="HS256", headers={"crit": ["exp"], "exp": 1})
    await assert_rejected(jwt_provider, token, InvalidToken, "critical extension")


async def test_jwks_down_is_jwks_unavailable(down_url: str, rsa_signing_key: SigningKey):
    async with JwksCache(down_url + "/jwks", fetch_timeout=2) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        await assert_rejected(provider, rsa_signing_key.sign(jwt_claims()), JwksUnavailable, "could not be fetched")


async def test_slow_jwks_is_jwks_unavailable_without_hanging(issuer_server: IssuerServer, rsa_signing_key):
    issuer_server.mode = "slow"
    async with JwksCache(issuer_server.jwks_url, fetch_timeout=0.2) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        error = await assert_rejected(
            provider, rsa_signing_key.sign(jwt_claims()), JwksUnavailable, "could not be fetched"
        )
    assert error.status == 503


async def test_hs_tokens_still_verify_while_the_jwks_is_down(down_url: str, hs_keys):
    async with JwksCache(down_url + "/jwks", fetch_timeout=2) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, jwks=cache)
        assert (await provider.authenticate(bearer(hs_token(hs_keys[1])))).user_id == "user-1"
