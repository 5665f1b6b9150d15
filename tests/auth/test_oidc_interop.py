"""The JWT and introspection providers against a real authorization server
(oidc-provider on loopback): its JWKS, its JWT access tokens, its introspection."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from mcp_auth.auth.introspection import IntrospectionProvider
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import InvalidToken, WrongAudience
from tests._fixtures.http import bearer
from tests.oidc.helper import INTROSPECTION_CLIENT, SERVICE_CLIENT, OidcServer

_ports = itertools.count(21000)


def new_resource() -> str:
    """A resource URL of our own (nothing needs to listen there)."""
    return f"http://127.0.0.1:{next(_ports)}/mcp"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_access_token_from_the_authorization_server_verifies(oidc_server: OidcServer, alg: str):
    target = new_resource()
    await oidc_server.add_resource(target, alg=alg)
    token = (await oidc_server.client_credentials(target, ["tools:read", "tools:write"]))["access_token"]
    async with JwksCache(oidc_server.jwks_url) as jwks:
        provider = JwtProvider(issuer=oidc_server.issuer, audience=target, jwks=jwks)
        principal = await provider.authenticate(bearer(token))
    assert principal.user_id == SERVICE_CLIENT
    assert principal.client_id == SERVICE_CLIENT
    assert principal.scopes == {"tools:read", "tools:write"}


async def test_user_token_for_another_resource_is_wrong_audience(oidc_server: OidcServer):
    mine, theirs = new_resource(), new_resource()
    token = (await oidc_server.authorization_code_flow(account="alice", resource=theirs))["access_token"]
    async with JwksCache(oidc_server.jwks_url) as jwks:
        provider = JwtProvider(issuer=oidc_server.issuer, audience=mine, jwks=jwks)
        with pytest.raises(WrongAudience):
            await provider.authenticate(bearer(token))


async def test_tokens_signed_before_and_after_key_rotation_both_verify(
    oidc_server_factory: Callable[..., OidcServer],
):
    server = oidc_server_factory()
    target = new_resource()
    old_token = (await server.client_credentials(target))["access_token"]
    async with JwksCache(server.jwks_url, refresh_cooldown=0) as jwks:
        provider = JwtProvider(issuer=server.issuer, audience=target, jwks=jwks)
        await provider.authenticate(bearer(old_token))
        await server.rotate_keys()
        new_token = (await server.client_credentials(target))["access_token"]
        assert (await provider.authenticate(bearer(new_token))).user_id == SERVICE_CLIENT
        assert (await provider.authenticate(bearer(old_token))).user_id == SERVICE_CLIENT
        await server.retire_old_keys()
        await jwks.refresh()
        with pytest.raises(InvalidToken, match="unknown 'kid'"):
            await provider.authenticate(bearer(old_token))


async def test_opaque_user_token_is_verified_by_introspection_until_revoked(oidc_server: OidcServer):
    target = new_resource()
    await oidc_server.add_resource(target, format="opaque", scopes=["tools:read"])
    tokens = await oidc_server.authorization_code_flow(account="bob", resource=target, scopes=["tools:read"])
    token = tokens["access_token"]
    client = oidc_server.client(INTROSPECTION_CLIENT)
    async with IntrospectionProvider(
        endpoint=oidc_server.introspection_endpoint,
        client_id=INTROSPECTION_CLIENT,
        client_secret=client["client_secret"],
        audience=target,
        issuer=oidc_server.issuer,
    ) as provider:
        principal = await provider.authenticate(bearer(token))
        assert principal.user_id == "bob"
        assert principal.scopes == {"tools:read"}
        await oidc_server.revoke(token)
        with pytest.raises(InvalidToken, match="not active"):
            await provider.authenticate(bearer(token))
