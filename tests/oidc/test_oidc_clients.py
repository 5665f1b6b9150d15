"""Clients that are not pre-registered: dynamic registration (RFC 7591), Client ID
Metadata Documents, and sign-in driven through a server that delegates to this one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.oidc.helper import (
    AuthorizationResponse,
    OidcServer,
    pkce_pair,
)
from tests.oidc.settings import DEFAULT_REDIRECT_URI, unique_resource


async def test_dynamically_registered_client_with_resource_scopes_can_sign_in(
    oidc_server: OidcServer,
) -> None:
    client = await oidc_server.register_client(
        {
            "client_name": "registered in a test",
            "redirect_uris": [DEFAULT_REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "scope": "tools:read tools:write",
        }
    )
    target = unique_resource()

    client_id = client["client_id"]

    tokens = await oidc_server.authorization_code_flow(account="alice", resource=target, client_id=client_id)

    assert (await oidc_server.decode(tokens["access_token"], audience=target))["client_id"] == client_id


async def test_client_id_metadata_document_client_can_sign_in(
    oidc_server_factory: Callable[..., OidcServer], document_host: tuple[str, dict[str, Any]]
) -> None:
    base, documents = document_host
    client_id = "https://client.example/oauth/client.json"
    documents["/oauth/client.json"] = {
        "client_id": client_id,
        "client_name": "CIMD test client",
        "redirect_uris": [DEFAULT_REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    }
    server = oidc_server_factory(cimd_fetch_map={"https://client.example/": f"{base}/"})
    target = unique_resource()

    tokens = await server.authorization_code_flow(account="alice", resource=target, client_id=client_id)

    assert (await server.decode(tokens["access_token"], audience=target))["client_id"] == client_id


async def test_sign_in_is_followed_through_a_delegating_server(oidc_server: OidcServer) -> None:
    """A server that delegates sign-in here (as the built-in authorization server will, with
    this server standing in for Google) is followed through, with the caller's own client."""
    facade = "http://127.0.0.1:7778"  # served in-process through a mounted ASGI transport
    final_redirect = "http://127.0.0.1/after-sign-in"
    upstream_client = await oidc_server.register_client(
        {
            "redirect_uris": [f"{facade}/callback"],
            "grant_types": ["authorization_code"],
            "scope": "openid email",
        }
    )
    verifier, challenge = pkce_pair()

    async def start(request: Request) -> Response:
        upstream = oidc_server.authorization_url(
            client_id=upstream_client["client_id"],
            redirect_uri=f"{facade}/callback",
            scopes=["openid", "email"],
            code_challenge=challenge,
            state="upstream-state",
        )
        return RedirectResponse(upstream, status_code=302)

    async def callback(request: Request) -> Response:
        return RedirectResponse(f"{final_redirect}?upstream_code={request.query_params['code']}", status_code=302)

    app = Starlette(routes=[Route("/start", start), Route("/callback", callback)])
    async with httpx.AsyncClient(mounts={facade: httpx.ASGITransport(app=app)}) as browser:
        landed = await oidc_server.follow_authorization(
            f"{facade}/start", redirect_uri=final_redirect, account="bob", browser=browser
        )

    code = parse_qs(urlsplit(landed).query)["upstream_code"][0]
    response = AuthorizationResponse(code, "upstream-state", verifier, f"{facade}/callback", landed)
    tokens = await oidc_server.exchange_code(response, client_id=upstream_client["client_id"])
    id_token = await oidc_server.decode(tokens["id_token"], audience=upstream_client["client_id"])
    assert id_token["email"] == "bob@example.org"
