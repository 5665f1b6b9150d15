"""IntrospectionProvider against a real RFC 7662 endpoint on loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.introspection import IntrospectionProvider
from mcp_auth.errors import (
    ConfigError,
    ExpiredToken,
    InvalidToken,
    MissingToken,
    UpstreamError,
    WrongAudience,
)
from tests._fixtures.jwks import INTROSPECT_PATH, IssuerServer

ISSUER = "https://issuer.test"
AUDIENCE = "https://mcp.example.test/mcp"


def answer(**overrides: Any) -> dict[str, Any]:
    """An active introspection answer; pass a member as None to leave it out."""
    now = int(time.time())
    document: dict[str, Any] = {
        "active": True,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "username": "ada",
        "scope": "tools:read tools:write",
        "client_id": "client-1",
        "token_type": "Bearer",
        "iat": now,
        "exp": now + 600,
    }
    document.update(overrides)
    return {name: value for name, value in document.items() if value is not None}


def issue(server: IssuerServer, **overrides: Any) -> str:
    token = secrets.token_urlsafe(32)
    server.tokens[token] = answer(**overrides)
    return token


def settings(server: IssuerServer, **overrides: Any) -> dict[str, Any]:
    return {
        "endpoint": server.introspection_url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": AUDIENCE,
        "issuer": ISSUER,
        "timeout": 2,
        **overrides,
    }


@pytest.fixture
async def provider(issuer_server: IssuerServer) -> AsyncIterator[IntrospectionProvider]:
    async with IntrospectionProvider(**settings(issuer_server)) as p:
        yield p


async def refused(provider: IntrospectionProvider, token: str, error: type[Exception], match: str) -> Exception:
    with pytest.raises(error, match=match) as raised:
        await provider.authenticate(Credentials(bearer=token))
    assert type(raised.value) is error
    assert token not in str(raised.value)
    return raised.value


async def test_active_token_becomes_a_principal(provider, issuer_server: IssuerServer):
    token = issue(issuer_server)
    principal = await provider.authenticate(Credentials(bearer=token))
    assert principal.user_id == "user-1"
    assert principal.auth_method == "oauth"
    assert principal.scopes == {"tools:read", "tools:write"}
    assert principal.client_id == "client-1"
    assert principal.expires_at == issuer_server.tokens[token]["exp"]
    assert issuer_server.requests == [("POST", INTROSPECT_PATH)]


async def test_user_id_can_come_from_username(issuer_server: IssuerServer):
    token = issue(issuer_server, sub=None)
    async with IntrospectionProvider(**settings(issuer_server, user_id_claim="username")) as provider:
        assert (await provider.authenticate(Credentials(bearer=token))).user_id == "ada"


async def test_token_for_one_of_several_audiences_is_accepted(provider, issuer_server: IssuerServer):
    token = issue(issuer_server, aud=["https://elsewhere.test", AUDIENCE])
    assert (await provider.authenticate(Credentials(bearer=token))).user_id == "user-1"


async def test_answer_without_scope_or_exp_gives_no_scopes_and_no_expiry(provider, issuer_server: IssuerServer):
    token = issue(issuer_server, scope=None, exp=None)
    principal = await provider.authenticate(Credentials(bearer=token))
    assert principal.scopes == frozenset() and principal.expires_at is None


async def test_unknown_token_is_not_active(provider):
    await refused(provider, secrets.token_urlsafe(32), InvalidToken, "not active")


@pytest.mark.parametrize("active", [False, "true", 1, None])
async def test_anything_but_active_true_is_not_active(provider, issuer_server: IssuerServer, active):
    token = issue(issuer_server, active=active)
    await refused(provider, token, InvalidToken, "not active")


async def test_active_answer_with_past_exp_is_expired_token(provider, issuer_server: IssuerServer):
    token = issue(issuer_server, exp=int(time.time()) - 3600)
    await refused(provider, token, ExpiredToken, "expired")


async def test_active_answer_with_future_nbf_is_refused(provider, issuer_server: IssuerServer):
    token = issue(issuer_server, nbf=int(time.time()) + 3600)
    await refused(provider, token, InvalidToken, "not valid yet")


async def test_malformed_exp_is_refused(provider, issuer_server: IssuerServer):
    await refused(provider, issue(issuer_server, exp="tomorrow"), InvalidToken, "malformed 'exp'")


async def test_wrong_audience_is_wrong_audience(provider, issuer_server: IssuerServer):
    await refused(provider, issue(issuer_server, aud="https://other.test/mcp"), WrongAudience, "another resource")


async def test_missing_audience_is_wrong_audience(provider, issuer_server: IssuerServer):
    await refused(provider, issue(issuer_server, aud=None), WrongAudience, "no audience")


async def test_wrong_issuer_is_refused(provider, issuer_server: IssuerServer):
    await refused(provider, issue(issuer_server, iss="https://evil.test"), InvalidToken, "issuer")


async def test_missing_subject_is_refused(provider, issuer_server: IssuerServer):
    await refused(provider, issue(issuer_server, sub=None), InvalidToken, "no subject")


async def test_oversized_token_is_refused_without_asking_the_server(provider, issuer_server: IssuerServer):
    await refused(provider, "x" * 9000, InvalidToken, "larger than 8192")
    assert issuer_server.requests == []


async def test_refused_client_credentials_are_an_upstream_error(issuer_server: IssuerServer):
    token = issue(issuer_server)
    async with IntrospectionProvider(**settings(issuer_server, client_secret="wrong-secret")) as provider:
        error = await refused(provider, token, UpstreamError, "client credentials were refused")
    assert error.status == 503


async def test_introspection_down_is_an_upstream_error(down_url: str, issuer_server: IssuerServer):
    async with IntrospectionProvider(**settings(issuer_server, endpoint=down_url + INTROSPECT_PATH)) as provider:
        error = await refused(provider, secrets.token_urlsafe(32), UpstreamError, "unreachable")
    assert error.status == 503


async def test_slow_introspection_gives_up_at_its_deadline(issuer_server: IssuerServer):
    issuer_server.mode = "slow"
    async with IntrospectionProvider(**settings(issuer_server, timeout=0.2)) as provider:
        await refused(provider, issue(issuer_server), UpstreamError, "timed out")


@pytest.mark.parametrize(("mode", "match"), [("error", "HTTP 500"), ("garbage", "not a JSON object")])
async def test_failing_introspection_is_an_upstream_error(issuer_server: IssuerServer, mode: str, match: str):
    issuer_server.mode = mode
    async with IntrospectionProvider(**settings(issuer_server)) as provider:
        await refused(provider, issue(issuer_server), UpstreamError, match)


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (Credentials(bearer="opaque-token"), True),
        (Credentials(bearer="aaa.bbb.ccc"), True),
        (Credentials(bearer="mak_abc_def"), False),
        (Credentials(api_key="opaque-token"), False),
        (Credentials(), False),
    ],
)
def test_accepts_bearer_tokens_that_are_not_api_keys(provider, credentials: Credentials, expected: bool):
    assert provider.accepts(credentials) is expected


async def test_no_bearer_token_is_missing_token(provider):
    with pytest.raises(MissingToken):
        await provider.authenticate(Credentials())


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"endpoint": "http://issuer.example/introspect"}, "https"),
        ({"endpoint": "not a url"}, "https"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": None}, "client_secret"),
        ({"audience": None}, "audience"),
        ({"audience": []}, "audience"),
        ({"issuer": ""}, "issuer"),
        ({"timeout": 0}, "timeout"),
        ({"leeway": 120}, "leeway"),
    ],
)
def test_bad_configuration_is_refused_naming_the_setting(issuer_server: IssuerServer, overrides, match):
    with pytest.raises(ConfigError, match=match):
        IntrospectionProvider(**settings(issuer_server, **overrides))


async def test_repr_never_shows_the_client_secret(provider, issuer_server: IssuerServer):
    assert issuer_server.client_secret not in repr(provider)
