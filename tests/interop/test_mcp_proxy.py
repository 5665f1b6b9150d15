"""`mcp-proxy` bridging stdio to the server: how desktop clients without remote support connect."""

from __future__ import annotations

import os

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.interop.mcp_proxy import ensure_mcp_proxy


async def test_mcp_proxy_bridges_a_stdio_client_to_the_server_with_a_bearer_token(
    fixture_endpoint: tuple[str, str],
) -> None:
    url, token = fixture_endpoint
    server = StdioServerParameters(
        command=str(ensure_mcp_proxy()),
        args=["--transport", "streamablehttp", "-H", "Authorization", f"Bearer {token}", url],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")},
    )
    async with Client(server, mode="legacy", raise_exceptions=True) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("test_simple_text", {})
        resource = await client.read_resource("test://static-text")
    assert "test_simple_text" in names
    assert result.content[0].text == "This is a simple text response for testing."
    assert resource.contents[0].text == "This is the content of the static text resource."
