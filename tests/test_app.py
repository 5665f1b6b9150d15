"""The app's own limits, in process against the Firestore emulator."""

from __future__ import annotations

import secrets

import httpx
from mcp.server.mcpserver import MCPServer

from mcp_auth import Settings, wrap_server
from tests._fixtures.firestore import TEST_PROJECT

BASE = "https://mcp.example.com"
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def _random_64() -> str:
    """A documentation-range /64 of its own, so runs sharing the emulator never share a window."""
    return f"2001:db8:{secrets.randbits(16):x}:{secrets.randbits(16):x}"


async def test_ipv6_addresses_in_one_64_share_the_failed_authentication_limit(firestore_emulator):
    settings = Settings.from_env({
        "MCP_AUTH_RESOURCE_URL": f"{BASE}/mcp", "MCP_AUTH_PROVIDERS": "jwt",
        "MCP_AUTH_JWT_ISSUER": "https://issuer.example.com/", "MCP_AUTH_JWT_HS256_KEY": "k" * 48,
        "MCP_AUTH_RATE_LIMIT_IP": "3/day", "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,  # day windows: no boundary
    })
    app = wrap_server(lambda record: MCPServer("t"), settings=settings)
    rotating, neighbour = _random_64(), _random_64()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:

        async def attempt(address: str) -> int:
            headers = {**JSON, "Authorization": "Bearer not-a-token", "X-Forwarded-For": address}
            return (await client.post("/mcp", headers=headers, content=b"{}")).status_code

        statuses = [await attempt(f"{rotating}:{secrets.randbits(16):x}::{n + 1:x}") for n in range(5)]
        other = await attempt(f"{neighbour}::1")
    assert statuses == [401, 401, 401, 429, 429]  # a new address from the same /64 is the same client
    assert other == 401  # another /64 is another client
