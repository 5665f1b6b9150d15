"""``mcp-auth token mint``: development access tokens."""

from __future__ import annotations

import argparse

from mcp_auth.cli._common import UsageError, bounded_int, scopes, user_repository
from mcp_auth.config import Settings
from mcp_auth.devtools.tokens import mint_token

MAX_TTL = 30 * 24 * 3600


async def _mint(args: argparse.Namespace, settings: Settings) -> str:
    granted = scopes(args.scopes) if args.scopes is not None else None
    if granted is None:
        record = await (await user_repository(settings)).get(args.user)
        if record is None:
            raise UsageError(f"No user record {args.user!r}: create it ('mcp-auth users create') or pass --scopes.")
        granted = sorted(record.scopes)
    return mint_token(settings, user=args.user, scopes=granted, ttl=args.ttl)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    token = sub.add_parser("token", help="Access tokens.").add_subparsers(dest="action", required=True)
    mint = token.add_parser("mint", help="Print a JWT the local server accepts.")
    mint.add_argument("--user", required=True, help="User id (the token's sub).")
    mint.add_argument("--scopes", help="Comma-separated scopes (default: the user record's scopes).")
    mint.add_argument("--ttl", type=bounded_int("--ttl", 1, MAX_TTL), default=3600, help="Lifetime in seconds.")
    mint.set_defaults(run=_mint)
