"""The team's server factory: one MCP server per user, from the user's record."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from mcp_auth import UserRecord
from toolsets import TOOLSETS, notes


def build_server(record: UserRecord) -> MCPServer:
    """Give the user the tools of every toolset their record enables (unknown names are ignored)."""
    tools = [tool for name in sorted(record.toolsets) for tool in TOOLSETS.get(name, ())]
    server = MCPServer("mcp-auth-server", tools=tools, log_level="WARNING")
    if "notes" in record.toolsets:
        notes.add_resources_and_prompts(server)
    return server
