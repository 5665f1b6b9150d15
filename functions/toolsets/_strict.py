"""Strict tool input: unknown argument names are rejected, not silently dropped.

``Tool.from_function`` builds an argument model that ignores extra fields, so a
misspelt ``tittle`` would be dropped without a word. ``strict(tool)`` swaps in a
subclass that forbids them and says so in the published input schema.
"""

from __future__ import annotations

from mcp.server.mcpserver.tools.base import Tool
from pydantic import ConfigDict


def strict(tool: Tool) -> Tool:
    base = tool.fn_metadata.arg_model
    config = ConfigDict(**{**base.model_config, "extra": "forbid"})
    tool.fn_metadata.arg_model = type(base.__name__, (base,), {"model_config": config, "__module__": base.__module__})
    tool.parameters = {**tool.parameters, "additionalProperties": False}
    return tool
