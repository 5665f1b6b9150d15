"""``mcp-auth``: the command line for local development and administration.

    mcp-auth token mint --user U [--scopes a,b] [--ttl SECONDS] [--secret NAME]
    mcp-auth users create U [--toolsets a,b] [--scopes a,b]
    mcp-auth users show|disable|enable U
    mcp-auth users grant|revoke U --scopes a,b
    mcp-auth users toolsets U [--add a,b] [--remove a,b] [--set a,b]
    mcp-auth users list [--status active|disabled] [--toolset NAME] [--format table|json]
    mcp-auth users delete U [--erase [--yes]] | export U
    mcp-auth users withhold|unwithhold U [--toolsets a,b] [--scopes a,b]
    mcp-auth groups map|unmap GROUP [--toolsets a,b] [--scopes a,b] | list [--format table|json]
    mcp-auth accounts show --sub SUB [--issuer URL] | link U --sub SUB [--issuer URL] [--replace]
    mcp-auth connections list --user U | delete --user U [--provider P]
    mcp-auth keys create --user U [--scopes a,b] [--name N] [--ttl-days D] | list --user U | revoke ID
    mcp-auth audit list --user U [--limit N]
    mcp-auth check
    mcp-auth smoke URL [--token T] [--tool NAME] [--arguments JSON]
    mcp-auth migrate [--dry-run] [--to N]
    mcp-auth dev [--port 8080] [--source functions/main.py]
    mcp-auth stdio --user U

Settings come from the same ``MCP_AUTH_…`` environment as the server. Each
command group lives in its own module with a ``register(subparsers)``.
Errors print one line saying what to fix and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from mcp_auth.cli import accounts, audit, check, connections, groups, keys, migrate, smoke, stdio, tokens, users
from mcp_auth.cli._common import UsageError, bounded_int
from mcp_auth.config import Settings
from mcp_auth.errors import McpAuthError

COMMAND_GROUPS = (tokens, users, groups, accounts, keys, connections, stdio, audit, check, migrate, smoke)


async def run(args: argparse.Namespace, settings: Settings | None) -> str:
    from mcp_auth.store.firestore import close_clients

    try:
        output: str = await args.run(args, settings)
        return output
    finally:
        await close_clients()
        outbound = sys.modules.get("mcp_auth.http")
        if outbound is not None:  # a command made an outbound call (a revocation at a provider, say)
            await outbound.close_http_client()  # before the loop ends, not when collected later


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-auth", description="mcp-auth-server development and admin tool.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    dev = sub.add_parser("dev", help="Run the server locally with the Firestore emulator.")
    dev.add_argument(
        "--port",
        type=bounded_int("--port", 1, 65535),
        default=8080,
        help="The local port of the function (default 8080; with make: make dev PORT=8081).",
    )
    dev.add_argument("--source", default="functions/main.py")
    dev.add_argument("--user", default="dev-user", help="The development user to seed and mint a token for.")
    dev.set_defaults(run=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "dev":
            from mcp_auth.devtools.runner import run_dev

            return run_dev(port=args.port, source=args.source, user=args.user)
        # A command that loads the team's server (stdio) reads its own settings; the others need them here.
        settings = Settings.from_env() if getattr(args, "needs_settings", True) else None
        output = asyncio.run(run(args, settings))
        if output:  # nothing at all otherwise: stdout may be a protocol channel (stdio)
            print(output)
        return 0
    except (UsageError, McpAuthError) as exc:
        print(f"mcp-auth: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
