"""``mcp-auth``: the command line for local development and administration.

    mcp-auth token mint --user U [--scopes a,b] [--ttl SECONDS]
    mcp-auth users create U [--toolsets a,b] [--scopes a,b]
    mcp-auth users show U
    mcp-auth dev [--port 8080] [--source functions/main.py]

Settings come from the same ``MCP_AUTH_…`` environment as the server.
Errors print one line saying what to fix and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from mcp_auth.config import Settings
from mcp_auth.errors import McpAuthError

_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")  # RFC 6749 scope-token
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_TTL = 30 * 24 * 3600


class UsageError(Exception):
    pass


def _csv(value: str, *, kind: str, pattern: re.Pattern[str]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if not pattern.fullmatch(item):
            raise UsageError(f"{item!r} is not a valid {kind}.")
    return sorted(set(items))


def _scopes(value: str) -> list[str]:
    return _csv(value, kind="scope (printable ASCII, no spaces, quotes or backslashes)", pattern=_SCOPE)


def _toolsets(value: str) -> list[str]:
    return _csv(value, kind="toolset name (lowercase letters, digits, - and _)", pattern=_NAME)


def _ttl(value: str) -> int:
    try:
        ttl = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ttl takes whole seconds, got {value!r}") from None
    if not 1 <= ttl <= MAX_TTL:
        raise argparse.ArgumentTypeError(f"--ttl must be between 1 and {MAX_TTL} seconds, got {ttl}")
    return ttl


def mint_token(settings: Settings, *, user: str, scopes: Sequence[str] | None, ttl: int) -> str:
    """An HS256 access token the local server accepts (development key from MCP_AUTH_JWT_HS256_KEY)."""
    import jwt

    from mcp_auth.store.users import validate_uid

    if not settings.jwt_hs256_key or not settings.jwt_issuer:
        raise UsageError("Minting needs MCP_AUTH_JWT_HS256_KEY and MCP_AUTH_JWT_ISSUER (run 'make dev' first).")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": validate_uid(user),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "client_id": "mcp-auth-cli",
    }
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, settings.jwt_hs256_key.encode(), algorithm="HS256")


async def _repository(settings: Settings):  # noqa: ANN202 - internal
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.users import UserRepository

    return UserRepository(firestore_client(project=settings.project, database=settings.firestore_database))


async def _token_mint(args: argparse.Namespace, settings: Settings) -> str:
    scopes = _scopes(args.scopes) if args.scopes is not None else None
    if scopes is None:
        record = await (await _repository(settings)).get(args.user)
        if record is None:
            raise UsageError(f"No user record {args.user!r}: create it ('mcp-auth users create') or pass --scopes.")
        scopes = sorted(record.scopes)
    return mint_token(settings, user=args.user, scopes=scopes, ttl=args.ttl)


async def _users_create(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import UserRecord, validate_uid

    record = UserRecord(
        uid=validate_uid(args.user),
        scopes=frozenset(_scopes(args.scopes)),
        toolsets=frozenset(_toolsets(args.toolsets)),
    )
    repo = await _repository(settings)
    if await repo.get(args.user) is not None:
        raise UsageError(f"User {args.user!r} already exists: see it with 'mcp-auth users show {args.user}'.")
    return _show(await repo.create(record))


async def _users_show(args: argparse.Namespace, settings: Settings) -> str:
    record = await (await _repository(settings)).get(args.user)
    if record is None:
        raise UsageError(f"No user record {args.user!r}.")
    return _show(record)


def _show(record: Any) -> str:
    return json.dumps(
        {"uid": record.uid, **record.to_document(), "version": record.version}, indent=2, sort_keys=True
    )


async def _run(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.firestore import close_clients

    try:
        return await args.run(args, settings)
    finally:
        await close_clients()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-auth", description="mcp-auth-server development and admin tool.")
    sub = parser.add_subparsers(dest="command", required=True)

    token = sub.add_parser("token", help="Access tokens.").add_subparsers(dest="action", required=True)
    mint = token.add_parser("mint", help="Print a JWT the local server accepts.")
    mint.add_argument("--user", required=True, help="User id (the token's sub).")
    mint.add_argument("--scopes", help="Comma-separated scopes (default: the user record's scopes).")
    mint.add_argument("--ttl", type=_ttl, default=3600, help="Lifetime in seconds (default 3600).")
    mint.set_defaults(run=_token_mint)

    users = sub.add_parser("users", help="User records in Firestore.").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="Create a user record.")
    create.add_argument("user")
    create.add_argument("--toolsets", default="", help="Comma-separated toolsets to enable.")
    create.add_argument("--scopes", default="", help="Comma-separated scopes to grant.")
    create.set_defaults(run=_users_create)
    show = users.add_parser("show", help="Print a user record.")
    show.add_argument("user")
    show.set_defaults(run=_users_show)

    dev = sub.add_parser("dev", help="Run the server locally with the Firestore emulator.")
    dev.add_argument("--port", type=int, default=8080)
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
        settings = Settings.from_env()
        print(asyncio.run(_run(args, settings)))
        return 0
    except (UsageError, McpAuthError) as exc:
        print(f"mcp-auth: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
