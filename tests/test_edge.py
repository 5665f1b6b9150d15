"""The edge, in process: Host/Origin, CORS, size and type caps, JSON depth, security headers."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_auth import wrap_server
from mcp_auth.edge import MAX_JSON_DEPTH
from tests._fixtures.local_app import local_client, local_settings


@pytest.fixture
def client():
    settings = local_settings(MCP_AUTH_ALLOWED_ORIGINS="https://app.example.com", MCP_AUTH_MAX_BODY_BYTES="4096")
    return local_client(wrap_server(lambda record: MCPServer("t"), settings=settings))


JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def test_every_response_carries_security_headers(client):
    for r in (
        await client.get("/healthz"),
        await client.post("/mcp", headers=JSON, content=b"{}"),
        await client.get("/nope"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-frame-options"] == "DENY"


async def test_cors_is_closed_except_for_configured_origins(client):
    r = await client.options(
        "/mcp", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    r = await client.options(
        "/mcp", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in r.headers["access-control-allow-headers"]
    r = await client.post("/mcp", headers={**JSON, "Origin": "https://app.example.com"}, content=b"{}")
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "WWW-Authenticate" in r.headers["access-control-expose-headers"]
    assert "MCP-Protocol-Version" in r.headers["access-control-expose-headers"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"],
)
async def test_mcp_post_must_be_json(client, content_type):
    headers = {"Accept": "application/json"} | ({"Content-Type": content_type} if content_type else {})
    r = await client.post("/mcp", headers=headers, content=b"{}")
    assert r.status_code == 415
    assert r.json()["error"] == "unsupported_media_type"


async def test_oversized_body_is_413_before_authentication(client):
    r = await client.post("/mcp", headers=JSON, content=b'{"x": "' + b"a" * 5000 + b'"}')
    assert r.status_code == 413


async def test_streamed_oversized_body_is_413(client):
    async def chunks():
        for _ in range(10):
            yield b"a" * 1000

    r = await client.post("/mcp", headers=JSON, content=chunks())
    assert r.status_code == 413


async def test_deeply_nested_json_is_a_parse_error_not_a_crash(client):
    body = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    r = await client.post("/mcp", headers=JSON, content=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == -32700


async def test_huge_headers_are_431(client):
    r = await client.post("/mcp", headers={**JSON, "X-Padding": "p" * 20_000}, content=b"{}")
    assert r.status_code == 431
