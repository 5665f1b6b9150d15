"""The mcp SDK's OAuth client gets a token from the test authorization server:
401 -> protected resource metadata -> server metadata -> registration (dynamic,
or a Client ID Metadata Document) -> authorization code + PKCE -> token.

The protected resource here is a stand-in of a few lines, served in-process;
it only proves the authorization server side works with a real MCP client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.oidc.helper import MemoryStorage, OidcServer

RESOURCE_ORIGIN = "http://127.0.0.1:7777"  # served in-process through a mounted ASGI transport
RESOURCE = f"{RESOURCE_ORIGIN}/mcp"
PRM_URL = f"{RESOURCE_ORIGIN}/.well-known/oauth-protected-resource/mcp"
REDIRECT_URI = "http://localhost:3030/callback"


def protected_resource(server: OidcServer) -> Starlette:
    async def mcp(request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            claims = await server.decode(authorization.removeprefix("Bearer "), audience=RESOURCE)
            return JSONResponse({"sub": claims["sub"], "client_id": claims["client_id"], "scope": claims["scope"]})
        challenge = f'Bearer resource_metadata="{PRM_URL}", scope="tools:read"'
        return Response(status_code=401, headers={"WWW-Authenticate": challenge})

    async def metadata(request: Request) -> Response:
        return JSONResponse(
            {
                "resource": RESOURCE,
                "authorization_servers": [server.issuer],
                "scopes_supported": ["tools:read"],
            }
        )

    return Starlette(routes=[Route("/mcp", mcp), Route("/.well-known/oauth-protected-resource/mcp", metadata)])


async def call_as(server: OidcServer, account: str, **provider_options: Any) -> dict[str, Any]:
    """GET the protected resource with the SDK's OAuth client, signing in as `account`."""
    callbacks: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        callbacks.append(
            await server.follow_authorization(authorization_url, redirect_uri=REDIRECT_URI, account=account)
        )

    async def callback_handler() -> AuthorizationCodeResult:
        query = {name: values[0] for name, values in parse_qs(urlsplit(callbacks.pop()).query).items()}
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    oauth = OAuthClientProvider(
        RESOURCE,
        OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],
            client_name="mcp sdk client in a test",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        MemoryStorage(),
        redirect_handler,
        callback_handler,
        **provider_options,
    )
    transport = httpx2.ASGITransport(app=protected_resource(server))
    async with httpx2.AsyncClient(auth=oauth, mounts={RESOURCE_ORIGIN: transport}) as http:
        response = await http.get(RESOURCE)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_sdk_client_registers_dynamically_and_signs_in(oidc_server: OidcServer) -> None:
    answer = await call_as(oidc_server, "bob")

    assert answer["sub"] == "bob"
    assert answer["scope"] == "tools:read"


async def test_sdk_client_signs_in_with_a_client_id_metadata_document(
    oidc_server_factory: Callable[..., OidcServer], document_host: tuple[str, dict[str, Any]]
) -> None:
    base, documents = document_host
    client_id = "https://client.example/oauth/mcp-client.json"
    documents["/oauth/mcp-client.json"] = {
        "client_id": client_id,
        "client_name": "mcp sdk client in a test",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    server = oidc_server_factory(cimd_fetch_map={"https://client.example/": f"{base}/"})

    answer = await call_as(server, "alice", client_metadata_url=client_id)

    assert answer == {"sub": "alice", "client_id": client_id, "scope": "tools:read"}
