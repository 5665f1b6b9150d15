"""JwtProvider: tokens that verify, claims, which credentials it takes, configuration."""

from __future__ import annotations

import os
import time
from typing import Any

import jwt
import pytest

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import (
    ConfigError,
    ExpiredToken,
    InvalidToken,
    MissingToken,
)
from tests._fixtures.http import bearer
from tests._fixtures.jwks import (
    AUDIENCE,
    ISSUER,
    IssuerServer,
    SigningKey,
    assert_rejected,
    hs_token,
    jwt_claims,
    make_signing_key,
)

# --- tokens that verify -------------------------------------------------------------------------


@pytest.mark.parametrize("key_fixture", ["rsa_signing_key", "ec_signing_key", "ed_signing_key"])
async def test_asymmetric_token_from_the_jwks_verifies(jwt_provider: JwtProvider, key_fixture: str, request):
    key: SigningKey = request.getfixturevalue(key_fixture)
    token_claims = jwt_claims()
    principal = await jwt_provider.authenticate(bearer(key.sign(token_claims)))
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
        principal = await provider.authenticate(bearer(key.sign(jwt_claims())))
    assert principal.user_id == "user-1"


async def test_rs256_token_is_refused_for_a_key_that_declares_ps256(issuer_server: IssuerServer):
    key = make_signing_key("rsa", "rsa-ps", alg="PS256")
    issuer_server.jwks = {"keys": [key.public_jwk]}
    token = jwt.encode(jwt_claims(), key.private, algorithm="RS256", headers={"kid": key.kid})
    async with JwksCache(issuer_server.jwks_url) as cache:
        provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=cache)
        await assert_rejected(provider, token, InvalidToken, "cannot verify RS256")


async def test_hs_token_verifies_with_either_rotation_key(jwt_provider: JwtProvider, hs_keys: list[bytes]):
    for key in hs_keys:
        principal = await jwt_provider.authenticate(bearer(hs_token(key)))
        assert principal.user_id == "user-1"


async def test_hs_token_signed_with_a_retired_key_is_refused(jwt_provider: JwtProvider):
    await assert_rejected(jwt_provider, hs_token(os.urandom(32)), InvalidToken, "signature does not verify")


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
async def test_longer_hmac_algorithms_verify_with_long_enough_keys(alg: str):
    key = os.urandom(64)
    provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=[key])
    assert (await provider.authenticate(bearer(hs_token(key, alg)))).user_id == "user-1"


async def test_hs512_token_is_refused_when_every_key_is_too_short_for_it():
    key = os.urandom(32)
    provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=[key])
    token = jwt.encode(jwt_claims(), os.urandom(64), algorithm="HS512")
    await assert_rejected(provider, token, InvalidToken, "long enough for HS512")


async def test_scopes_come_from_scp_list_and_client_from_azp(jwt_provider: JwtProvider, hs_keys):
    token = hs_token(hs_keys[0], scope=None, client_id=None, scp=["a", "b"], azp="client-2")
    principal = await jwt_provider.authenticate(bearer(token))
    assert principal.scopes == {"a", "b"}
    assert principal.client_id == "client-2"


async def test_scopes_come_from_scp_string(jwt_provider: JwtProvider, hs_keys):
    principal = await jwt_provider.authenticate(bearer(hs_token(hs_keys[0], scope=None, scp="a b")))
    assert principal.scopes == {"a", "b"}


async def test_scope_claim_of_the_wrong_type_is_refused(jwt_provider: JwtProvider, hs_keys):
    await assert_rejected(jwt_provider, hs_token(hs_keys[0], scope=["a"]), InvalidToken, "'scope' claim")


async def test_user_id_comes_from_the_configured_claim(hs_keys):
    provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, user_id_claim="oid")
    principal = await provider.authenticate(bearer(hs_token(hs_keys[0], oid="object-7")))
    assert principal.user_id == "object-7"
    await assert_rejected(provider, hs_token(hs_keys[0]), InvalidToken, "'oid' claim is missing")


async def test_token_for_one_of_several_audiences_verifies(hs_keys):
    provider = JwtProvider(issuer=ISSUER, audience=[AUDIENCE, "https://other.test/mcp"], hs_keys=hs_keys)
    token = hs_token(hs_keys[0], aud=["https://other.test/mcp", "https://unrelated.test"])
    assert (await provider.authenticate(bearer(token))).user_id == "user-1"


async def test_recently_expired_token_is_accepted_within_the_leeway(hs_keys):
    token = hs_token(hs_keys[0], exp=int(time.time()) - 10)
    lenient = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, leeway=60)
    strict = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, leeway=0)
    assert (await lenient.authenticate(bearer(token))).user_id == "user-1"
    await assert_rejected(strict, token, ExpiredToken, "expired")


async def test_new_jwks_key_is_picked_up_after_rotation(
    published_jwks: IssuerServer, jwks_only_provider, rsa_signing_key
):
    old_token = rsa_signing_key.sign(jwt_claims())
    await jwks_only_provider.authenticate(bearer(old_token))
    new_key = make_signing_key("ec", "ec-rotated")
    published_jwks.jwks = {"keys": [new_key.public_jwk, rsa_signing_key.public_jwk]}
    assert (await jwks_only_provider.authenticate(bearer(new_key.sign(jwt_claims())))).user_id == "user-1"
    assert (await jwks_only_provider.authenticate(bearer(old_token))).user_id == "user-1"
    assert published_jwks.fetches() == 2


# --- which credentials the provider takes ------------------------------------------------------


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
def test_accepts_only_jwt_shaped_bearer_tokens(jwt_provider: JwtProvider, credentials: Credentials, expected: bool):
    assert jwt_provider.accepts(credentials) is expected


async def test_no_bearer_token_is_missing_token(jwt_provider: JwtProvider):
    with pytest.raises(MissingToken):
        await jwt_provider.authenticate(Credentials(api_key="mak_x_y"))


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
