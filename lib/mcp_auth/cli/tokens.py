"""``mcp-auth token mint``: access tokens, signed with a deployment's key from Secret Manager or the local one."""

from __future__ import annotations

import argparse
import os

from mcp_auth.cli._common import UsageError, bounded_int, scopes, user_repository
from mcp_auth.config import Settings
from mcp_auth.devtools.tokens import mint_token, signing_key

MAX_TTL = 30 * 24 * 3600


async def _mint(args: argparse.Namespace, _: Settings | None) -> str:
    from mcp_auth.store.users import validate_uid

    validate_uid(args.user)  # before any call: a bad id is refused without one
    # --secret stands for MCP_AUTH_JWT_HS_SECRET, so the settings are read here, with it.
    env = dict(os.environ)
    if args.secret is not None:
        if not args.secret.strip():
            raise UsageError("--secret is empty: pass the Secret Manager secret that holds the HS256 key.")
        env["MCP_AUTH_JWT_HS_SECRET"] = args.secret
    settings = Settings.from_env(env)
    key = await signing_key(settings, settings.jwt_hs_secret) if settings.jwt_hs_secret else None
    granted = scopes(args.scopes) if args.scopes is not None else None
    if granted is None:
        record = await (await user_repository(settings)).get(args.user)
        if record is None:
            raise UsageError(f"No user record {args.user!r}: create it ('mcp-auth users create') or pass --scopes.")
        granted = sorted(record.scopes)
    return mint_token(settings, user=args.user, scopes=granted, ttl=args.ttl, key=key)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    token = sub.add_parser("token", help="Access tokens.").add_subparsers(dest="action", required=True)
    mint = token.add_parser(
        "mint",
        help="Print a JWT the server accepts.",
        description="Signed with the HS256 key in Secret Manager (--secret, or MCP_AUTH_JWT_HS_SECRET; read with "
        "your own Google credentials) or, locally, MCP_AUTH_JWT_HS256_KEY; issuer and audience from the settings.",
    )
    mint.add_argument("--user", required=True, help="User id (the token's sub): a person or a service principal.")
    mint.add_argument("--scopes", help="Comma-separated scopes (default: the user record's scopes).")
    mint.add_argument("--ttl", type=bounded_int("--ttl", 1, MAX_TTL), default=3600, help="Lifetime in seconds.")
    mint.add_argument("--secret", help="Secret Manager secret holding the HS256 key (default: MCP_AUTH_JWT_HS_SECRET).")
    mint.set_defaults(run=_mint, needs_settings=False)
