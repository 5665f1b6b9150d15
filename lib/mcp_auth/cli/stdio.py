"""``mcp-auth stdio --user U``: one user's server over stdio (the factory ``MCP_AUTH_FACTORY`` names)."""

from __future__ import annotations

import argparse

from mcp_auth.cli._common import UsageError
from mcp_auth.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "stdio",
        help="Serve one user's MCP server on stdin/stdout (for local clients that launch a command).",
        description="Serve the same per-user MCP server as the HTTP endpoint, from the same Firestore data, "
        "over stdio. There is no credential on stdio, so the user must be named explicitly.",
    )
    parser.add_argument("--user", required=True, help="The user id whose server to serve (required).")
    parser.set_defaults(run=_run, needs_settings=False)


async def _run(args: argparse.Namespace, settings: Settings | None) -> str:
    from mcp_auth.stdio import build_stdio_app, serve_stdio

    user = (args.user or "").strip()
    if not user:
        raise UsageError("stdio serves one explicit user: pass --user U.")
    app = build_stdio_app(user_id=user)
    await serve_stdio(app, user_id=user)
    return ""
