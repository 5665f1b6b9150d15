"""Every place the framework reaches past the MCP SDK's (and sse-starlette's) public API.

Each function below names what it touches, why, and the public alternative to watch for;
``tests/test_sdk.py`` has a test per name that fails when an SDK release moves it, so an
upgrade breaks a test here instead of silently changing behaviour. Nothing is patched at
import: each is applied where it is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools.base import Tool


def forbid_extra_arguments(tool: Tool) -> Tool:
    """Reject unknown argument names instead of dropping them, and publish ``additionalProperties: false``.

    Touches ``Tool.fn_metadata.arg_model`` (the pydantic model the SDK validates arguments with;
    it ignores extra fields). Watch for: a ``strict``/``extra`` option on ``Tool.from_function``.
    """
    base = tool.fn_metadata.arg_model
    config = ConfigDict(**{**base.model_config, "extra": "forbid"})
    tool.fn_metadata.arg_model = type(base.__name__, (base,), {"model_config": config, "__module__": base.__module__})
    tool.parameters = {**tool.parameters, "additionalProperties": False}
    return tool


def lowlevel_server(server: MCPServer) -> Server[Any]:
    """The low-level ``Server`` behind an ``MCPServer``, which a per-request session manager serves.

    Touches ``MCPServer._lowlevel_server``. Watch for: a public accessor, or a session manager
    that takes an ``MCPServer``.
    """
    return server._lowlevel_server  # noqa: SLF001
