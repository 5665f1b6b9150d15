"""The authorization server's routes through the whole app, in process: body caps and per-address limits."""

from __future__ import annotations

import base64
import hashlib

import pytest

from mcp_auth.oauth.server import CONSENT_BYTES, FORM_BYTES
from tests._fixtures.oauth import random_64

CHUNK = 1024
HUGE = 64 * 1024 * 1024
POST_ROUTES = {
    "/oauth/register": FORM_BYTES,
    "/oauth/token": FORM_BYTES,
    "/oauth/revoke": FORM_BYTES,
    "/oauth/consent": CONSENT_BYTES,
}
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("path", sorted(POST_ROUTES))
async def test_a_streamed_huge_body_is_refused_without_reading_it_to_the_end(oauth_app, path):
    deployment = oauth_app()
    sent = [0]

    async def body():
        for _ in range(HUGE // CHUNK):
            sent[0] += 1
            yield b"a" * CHUNK

    content_type = "application/json" if path == "/oauth/register" else "application/x-www-form-urlencoded"
    async with deployment.client() as client:  # no Content-Length: the body arrives in chunks
        r = await client.post(path, content=body(), headers={"Content-Type": content_type})
    assert r.status_code == 413, r.text
    assert str(POST_ROUTES[path]) in r.json()["error_description"]
    assert sent[0] <= POST_ROUTES[path] // CHUNK + 2  # read up to the cap, never the 64 MiB


async def test_routes_that_read_no_body_accept_none(oauth_app):
    deployment = oauth_app()
    async with deployment.client() as client:
        r = await client.request("GET", "/oauth/authorize", content=b"x")
        assert r.status_code == 413
        assert (await client.get("/.well-known/oauth-authorization-server")).status_code == 200


async def _authorize(client, client_id: str) -> int:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://localhost:3030/cb",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    return (await client.get("/oauth/authorize", params=params)).status_code


async def test_authorization_requests_are_limited_per_address_and_answered_like_oauth(oauth_app):
    deployment = oauth_app(MCP_AUTH_OAUTH_AUTHORIZE_RATE="3")
    async with deployment.client() as client:
        client_id = (await client.post("/oauth/register", json={"redirect_uris": ["http://localhost:3030/cb"]})).json()[
            "client_id"
        ]
        statuses = [await _authorize(client, client_id) for _ in range(7)]  # two minute-windows at most
        refused = await client.get("/oauth/authorize", params={"client_id": client_id})
    assert 429 in statuses and set(statuses) == {302, 429}
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"] == "too_many_requests"
    assert "authorize" in refused.json()["error_description"]


async def test_token_requests_are_limited_per_address(oauth_app):
    deployment = oauth_app(MCP_AUTH_OAUTH_TOKEN_RATE="3")
    form = {"grant_type": "refresh_token", "refresh_token": "unknown", "client_id": "mcp-x"}
    async with deployment.client() as client:
        statuses = [(await client.post("/oauth/token", data=form)).status_code for _ in range(7)]
    assert 429 in statuses and set(statuses) == {400, 429}


async def test_ipv6_addresses_in_one_64_share_the_authorization_limit(oauth_app):
    deployment = oauth_app(MCP_AUTH_OAUTH_AUTHORIZE_RATE="3")
    network = random_64()
    statuses = []
    for n in range(7):  # a fresh address of the same /64 each time
        async with deployment.client(address=f"{network}:{n + 1:x}::{n + 1:x}") as client:
            statuses.append(await _authorize(client, "mcp-unknownunknownunknown"))
    async with deployment.client() as elsewhere:
        other = await _authorize(elsewhere, "mcp-unknownunknownunknown")
    assert 429 in statuses and set(statuses) == {400, 429}
    assert other == 400
