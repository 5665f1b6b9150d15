"""The team's toolsets. A user record's ``toolsets`` field names which ones a user gets.

Each toolset is a tuple of ``Tool`` objects built once, at import: building a
per-user server then only selects from them (registering tools with decorators
per request costs about a millisecond per tool).
"""

from __future__ import annotations

from mcp.server.mcpserver.tools.base import Tool

from toolsets import basics, github, notes, profile

TOOLSETS: dict[str, tuple[Tool, ...]] = {
    "basics": basics.TOOLS,
    "github": github.TOOLS,
    "notes": notes.TOOLS,
    "profile": profile.TOOLS,
}
