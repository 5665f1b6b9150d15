"""The MCP authorization flow against a real authorization server (oidc-provider on loopback).

The `mcp` client starts without a token, follows our 401 to the protected-resource
metadata, then the authorization server's metadata, registers dynamically, runs
authorization code + PKCE (sign-in driven without a browser) and calls a tool
with the token it obtained. Then the signing key rotates.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from factory import FACTORY
from mcp_auth.devtools.emulator import free_port
from tests._fixtures.http import post_mcp
from tests.e2e.clients import mcp_client
from tests.oidc.helper import MemoryStorage
from tests.oidc.settings import resource

REDIRECT_URI = "http://localhost:3030/callback"
# The team registers the scopes its toolsets use (what the deployment advertises) with its authorization server.
ADVERTISED = sorted(FACTORY.scopes)


@pytest.fixture
def oauth_deployment(oidc_server_factory, start_function):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    idp = oidc_server_factory(resources={url: resource(scopes=ADVERTISED, alg="RS256")})
    server = start_function(
        PORT=str(port),
        MCP_AUTH_RESOURCE_URL=url,
        MCP_AUTH_JWT_HS256_KEY=None,
        MCP_AUTH_JWT_ISSUER=idp.issuer,
        MCP_AUTH_JWT_JWKS_URL=idp.jwks_url,
        MCP_AUTH_JWT_JWKS_REFRESH_COOLDOWN="0",
        MCP_AUTH_AUTHORIZATION_SERVERS=idp.issuer,
        MCP_AUTH_FIRST_LOGIN="create",
        MCP_AUTH_DEFAULT_TOOLSETS="basics",
        MCP_AUTH_DEFAULT_SCOPES="mcp:tools",
    )
    return idp, server


async def _sign_in_and_call(idp, url: str, account: str, storage: MemoryStorage) -> tuple[dict[str, Any], str]:
    callbacks: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        callbacks.append(await idp.follow_authorization(authorization_url, redirect_uri=REDIRECT_URI, account=account))

    async def callback_handler() -> AuthorizationCodeResult:
        query = {k: v[0] for k, v in parse_qs(urlsplit(callbacks.pop()).query).items()}
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    oauth = OAuthClientProvider(
        url,
        OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],
            client_name="test client",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage,
        redirect_handler,
        callback_handler,
    )
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), raise_exceptions=True) as client:
            who = await client.call_tool("whoami", {})
            echo = await client.call_tool("echo", {"text": "signed in"})
    assert storage.tokens is not None
    return {**who.structured_content, "echo": echo.content[0].text}, storage.tokens.access_token


async def test_client_without_a_token_signs_in_and_calls_tools(oauth_deployment):
    idp, server = oauth_deployment
    result, token = await _sign_in_and_call(idp, server.url, "bob", MemoryStorage())
    assert result == {
        "user_id": "bob",
        "auth_method": "jwt",
        "scopes": ["mcp:tools"],
        "toolsets": ["basics"],
        "echo": "signed in",
    }
    claims = await idp.decode(token, audience=server.url)
    assert claims["aud"] == server.url  # RFC 8707: the token is bound to this resource


async def test_signing_key_rotation_keeps_old_and_new_tokens_working(oauth_deployment):
    idp, server = oauth_deployment
    _, old_token = await _sign_in_and_call(idp, server.url, "alice", MemoryStorage())
    old_kid = await idp.key_state()
    await idp.rotate_keys()
    assert await idp.key_state() != old_kid
    _, new_token = await _sign_in_and_call(idp, server.url, "alice", MemoryStorage())
    assert _kid(new_token) != _kid(old_token)
    for token in (old_token, new_token):  # the old key stays published until its tokens expire
        async with mcp_client(server.url, token) as client:
            assert (await client.call_tool("whoami", {})).structured_content["user_id"] == "alice"


async def test_token_for_another_resource_is_rejected(oauth_deployment):
    idp, server = oauth_deployment
    other = "https://another.resource.test/mcp"
    await idp.add_resource(other, scopes=["mcp:tools"])
    tokens = await idp.authorization_code_flow(account="alice", resource=other, scopes=["mcp:tools"])
    r = post_mcp(server.url, token=tokens["access_token"])
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert "audience" in r.json()["error_description"]


def _kid(token: str) -> str:
    import jwt

    return str(jwt.get_unverified_header(token)["kid"])


async def test_opaque_tokens_are_introspected_and_revocation_takes_effect(
    oidc_server_factory, start_function, drongo_endpoint
):
    import time
    import uuid

    from tests._fixtures.firestore import TEST_PROJECT
    from tests._fixtures.secret_manager import SecretManagerAdmin

    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    idp = oidc_server_factory(resources={url: resource(scopes=ADVERTISED, format="opaque")})
    secret_name = f"introspection-{uuid.uuid4().hex[:8]}"
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    admin.create_secret(secret_name, idp.client("resource-server")["client_secret"].encode())
    admin.close()
    server = start_function(
        PORT=str(port),
        MCP_AUTH_RESOURCE_URL=url,
        MCP_AUTH_PROVIDERS="introspection",
        MCP_AUTH_JWT_HS256_KEY=None,
        MCP_AUTH_INTROSPECTION_URL=idp.introspection_endpoint,
        MCP_AUTH_INTROSPECTION_CLIENT_ID="resource-server",
        MCP_AUTH_INTROSPECTION_SECRET=secret_name,
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
        MCP_AUTH_AUTH_CACHE_TTL="1",
        MCP_AUTH_FIRST_LOGIN="create",
        MCP_AUTH_DEFAULT_TOOLSETS="basics",
        MCP_AUTH_DEFAULT_SCOPES="mcp:tools",
    )
    tokens = await idp.authorization_code_flow(account="carol", resource=url, scopes=["mcp:tools"])
    token = tokens["access_token"]
    assert token.count(".") != 2  # opaque, not a JWT
    async with mcp_client(server.url, token) as client:
        who = (await client.call_tool("whoami", {})).structured_content
    assert who["user_id"] == "carol" and who["auth_method"] == "oauth"

    await idp.revoke(token)
    deadline = time.monotonic() + 15
    while (r := post_mcp(server.url, token=token)).status_code != 401:
        assert time.monotonic() < deadline, "the revoked token kept working past the cache TTL"
        time.sleep(0.3)
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
