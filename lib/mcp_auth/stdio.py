"""The same per-user MCP server over stdio, for local clients that launch a command.

``serve_stdio(app, user_id=...)`` loads the user's record through the app's
``UserDirectory`` (the same Firestore data and first-login policy as HTTP),
builds the user's server with the app's factory (same scope checks, audit and
deadline middleware) and serves it on stdin/stdout with the user's context
set, so ``current_user()`` works in tool handlers exactly as over HTTP.

There is no credential on stdio: whoever starts the process chooses the user,
so the user must be named explicitly. Nothing but MCP messages may go to
stdout; logs go to stderr.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_auth.context import UserContext, user_context
from mcp_auth.errors import ConfigError, DisabledUser, UnknownUser
from mcp_auth.principal import Principal
from mcp_auth.store.users import validate_uid

if TYPE_CHECKING:
    from mcp_auth.app import McpAuthApp

STDIO_AUTH_METHOD = "stdio"
#: The resource URL a stdio process reports when none is configured: it serves no HTTP.
LOCAL_RESOURCE_URL = "http://localhost/mcp"


def load_app(source: str | Path, *, user_id: str) -> McpAuthApp:
    """Import the team's ``main.py`` and return the ``McpAuthApp`` it builds.

    A local stdio process has no HTTP credentials to check: unless the
    environment names providers, the development provider is configured for
    ``user_id`` so that the module's ``wrap_server(...)`` call can start.
    """
    from mcp_auth.app import McpAuthApp
    from mcp_auth.logs import configure_logging

    configure_logging(os.environ.get("MCP_AUTH_LOG_LEVEL", "INFO"), stream=sys.stderr)  # stdout is the MCP channel
    path = Path(source).resolve()
    if not path.is_file():
        raise ConfigError(f"No server source at {source}: pass --source path/to/main.py.")
    os.environ.setdefault("MCP_AUTH_PROVIDERS", "dev")
    os.environ.setdefault("MCP_AUTH_RESOURCE_URL", LOCAL_RESOURCE_URL)  # nothing is served over HTTP
    os.environ.setdefault("MCP_AUTH_DEV_USER", user_id)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # main.py imports its siblings (factory, toolsets)
    spec = importlib.util.spec_from_file_location("_mcp_auth_stdio_main", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{source} is not an importable Python module.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    apps = [value for value in vars(module).values() if isinstance(value, McpAuthApp)]
    if len(apps) != 1:
        raise ConfigError(f"{source} must define exactly one app built with wrap_server(...); found {len(apps)}.")
    return apps[0]


async def serve_stdio(app: McpAuthApp, *, user_id: str) -> None:
    """Serve ``user_id``'s MCP server on stdin/stdout until the client closes stdin."""
    if not user_id:
        raise ConfigError("stdio serves one explicit user: pass --user U.")
    validate_uid(user_id)
    try:
        record = await app.users.load(user_id)  # the first-login policy applies, as over HTTP
    except UnknownUser:
        hint = f"create it with `mcp-auth users create {user_id}`"
        raise UnknownUser(f"No user {user_id!r} on this server: {hint}.") from None
    except DisabledUser:
        raise DisabledUser(f"The user {user_id!r} is disabled: enable the account first.") from None
    principal = Principal(user_id=user_id, auth_method=STDIO_AUTH_METHOD, scopes=record.scopes)
    user = UserContext(principal=principal, record=record, scopes=record.scopes)
    built = await app.servers.get(record)
    with user_context(user):
        await built.server.run_stdio_async()
