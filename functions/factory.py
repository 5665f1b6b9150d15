"""The team's server factory: every toolset this deployment offers, and which ones a user gets.

The framework builds each user's MCP server from the toolsets selected here; by default a
user gets the toolsets their record names (``mcp-auth users toolsets U --add notes``). Pass
``select=`` to choose differently (by role, say), and keep it to selection.
"""

from __future__ import annotations

from mcp_auth import ToolsetFactory
from toolsets import TOOLSETS

FACTORY = ToolsetFactory(TOOLSETS, server_name="mcp-auth-server")
