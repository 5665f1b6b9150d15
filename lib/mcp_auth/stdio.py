"""The same per-user MCP server over stdio, for local clients that launch a command.

``build_stdio_app(user_id=...)`` builds the app from the team's factory (named by
``MCP_AUTH_FACTORY``, like the HTTP entry point) and the process's settings;
``serve_stdio(app, user_id=...)`` loads the user's record through the app's
``UserDirectory`` (the same Firestore data and first-login policy as HTTP),
builds the user's server (same scope checks, audit and deadline middleware)
and serves it on stdin/stdout with the user's context set, so
``current_user()`` works in tool handlers exactly as over HTTP.

There is no credential on stdio: whoever starts the process chooses the user,
so the user must be named explicitly. Nothing but MCP messages may go to
stdout; logs go to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mcp_auth.context import RequestContext, UserContext, request_context
from mcp_auth.errors import ConfigError, DisabledUser, UnknownUser
from mcp_auth.principal import Principal
from mcp_auth.store.users import validate_uid

if TYPE_CHECKING:
    from mcp_auth.app import McpAuthApp

STDIO_AUTH_METHOD = "stdio"
#: The resource URL a stdio process reports when none is configured: it serves no HTTP.
LOCAL_RESOURCE_URL = "http://localhost/mcp"


def build_stdio_app(*, user_id: str, env: Mapping[str, str] | None = None) -> McpAuthApp:
    """The app a stdio process serves: the factory ``MCP_AUTH_FACTORY`` names, with the process's settings.

    A local stdio process has no HTTP credentials to check: unless the environment names
    providers, the development provider is configured for ``user_id`` (in the settings built
    here; the process environment is not changed), and nothing is served over HTTP.
    """
    from mcp_auth.app import wrap_server
    from mcp_auth.config import Settings
    from mcp_auth.logs import configure_logging

    env = os.environ if env is None else env
    configure_logging(env.get("MCP_AUTH_LOG_LEVEL", "INFO"), stream=sys.stderr)  # stdout is the MCP channel
    defaults = {"MCP_AUTH_PROVIDERS": "dev", "MCP_AUTH_RESOURCE_URL": LOCAL_RESOURCE_URL, "MCP_AUTH_DEV_USER": user_id}
    return wrap_server(settings=Settings.from_env({**defaults, **env}))


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
    services = app.services
    resolver = services.credentials.resolver if services.credentials else None
    with request_context(RequestContext(user=user, stores=services.stores, resolver=resolver)):
        await built.server.run_stdio_async()
