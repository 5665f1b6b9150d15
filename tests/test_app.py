"""The app's own limits, in process against the Firestore emulator."""

from __future__ import annotations

import secrets

from mcp.server.mcpserver import MCPServer

from mcp_auth import wrap_server
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.local_app import local_client, local_settings

JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _random_64() -> str:
    """A documentation-range /64 of its own, so runs sharing the emulator never share a window."""
    return f"2001:db8:{secrets.randbits(16):x}:{secrets.randbits(16):x}"


async def test_ipv6_addresses_in_one_64_share_the_failed_authentication_limit(firestore_emulator):
    settings = local_settings(
        MCP_AUTH_RATE_LIMIT_IP="3/day",  # day windows: no boundary
        GOOGLE_CLOUD_PROJECT=TEST_PROJECT,
    )
    app = wrap_server(lambda record: MCPServer("t"), settings=settings)
    rotating, neighbour = _random_64(), _random_64()
    async with local_client(app) as client:

        async def attempt(address: str) -> int:
            headers = {**JSON, "Authorization": "Bearer not-a-token", "X-Forwarded-For": address}
            return (await client.post("/mcp", headers=headers, content=b"{}")).status_code

        statuses = [await attempt(f"{rotating}:{secrets.randbits(16):x}::{n + 1:x}") for n in range(5)]
        other = await attempt(f"{neighbour}::1")
    assert statuses == [401, 401, 401, 429, 429]  # a new address from the same /64 is the same client
    assert other == 401  # another /64 is another client


def _app(**env: str):
    return wrap_server(lambda record: MCPServer("t"), settings=local_settings(**env))


def test_the_pipeline_is_request_log_then_edge_then_router():
    from mcp_auth.edge import EdgeMiddleware
    from mcp_auth.observe import RequestLog

    app = _app()
    assert app.stages == (RequestLog, EdgeMiddleware)
    assert set(app.router.paths) == {
        "/",
        "/mcp",
        "/healthz",
        "/readyz",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    }


async def test_what_the_edge_refuses_is_still_logged_with_its_reason(caplog):
    import logging

    app = _app()
    async with local_client(app) as client:
        with caplog.at_level(logging.INFO, logger="mcp_auth.request"):
            r = await client.post("/mcp", headers={**JSON, "Host": "elsewhere.example"}, content=b"{}")
    assert r.status_code == 421
    lines = [rec for rec in caplog.records if rec.name == "mcp_auth.request"]
    assert [(rec.httpRequest["status"], rec.outcome, rec.route) for rec in lines] == [
        (421, "misdirected_request", "mcp")
    ]


async def test_an_unknown_path_passes_the_edge_and_gets_a_404_with_the_security_headers():
    app = _app()
    async with local_client(app) as client:
        r = await client.get("/nothing/here")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_the_mcp_path_with_a_trailing_slash_meets_every_edge_check():
    app = _app(MCP_AUTH_MAX_BODY_BYTES="2048")
    async with local_client(app) as client:
        too_big = await client.post("/mcp/", headers=JSON, content=b'{"x": "' + b"a" * 4096 + b'"}')
        not_json = await client.post("/mcp/", headers={"Content-Type": "text/plain"}, content=b"{}")
        too_deep = await client.post("/mcp/", headers=JSON, content=b"[" * 100 + b"]" * 100)
        get = await client.get("/mcp/")
    assert (too_big.status_code, not_json.status_code, too_deep.status_code, get.status_code) == (413, 415, 400, 405)


async def test_an_unhandled_error_downstream_is_a_logged_500_not_a_dropped_connection(caplog):
    from mcp_auth.observe import RequestLog

    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    app = RequestLog(broken, route_of=lambda path: "extra")
    async with local_client(app) as client:
        r = await client.get("/x")
    assert r.status_code == 500 and r.json()["error"] == "server_error"
    assert "boom" not in r.text
    assert any("Unhandled error" in rec.getMessage() for rec in caplog.records)


async def test_the_origin_answers_with_where_to_go_and_only_to_get():
    app = _app()
    async with local_client(app) as client:
        index = await client.get("/")
        post = await client.post("/", headers=JSON, content=b"{}")
    assert index.status_code == 200
    assert index.json() == {
        "resource": "https://mcp.example.com/mcp",
        "resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
        "health": "/healthz",
    }
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"


def test_an_issuer_of_shared_key_tokens_is_not_advertised_and_one_with_keys_is():
    from mcp_auth.metadata import protected_resource_metadata

    minted = local_settings()  # HS256: tokens the team mints; the issuer serves no metadata
    assert "authorization_servers" not in protected_resource_metadata(minted)
    provider = local_settings(MCP_AUTH_JWT_HS256_KEY="", MCP_AUTH_JWT_JWKS_URL="https://issuer.example.com/jwks")
    assert protected_resource_metadata(provider)["authorization_servers"] == ["https://issuer.example.com/"]
    named = local_settings(MCP_AUTH_AUTHORIZATION_SERVERS="https://login.example.com")
    assert protected_resource_metadata(named)["authorization_servers"] == ["https://login.example.com"]
