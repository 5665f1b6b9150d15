"""``mcp-auth keys create|list|revoke``: API keys for users."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mcp_auth.cli._common import UsageError, bounded_int, scopes, user_repository
from mcp_auth.config import Settings

if TYPE_CHECKING:
    from mcp_auth.store.api_keys import ApiKeyRepository


async def _repository(settings: Settings) -> ApiKeyRepository:
    from mcp_auth.store.api_keys import ApiKeyRepository
    from mcp_auth.store.firestore import firestore_client

    return ApiKeyRepository(firestore_client(project=settings.project, database=settings.firestore_database))


async def _pepper(settings: Settings) -> bytes:
    if settings.api_key_pepper:
        return settings.api_key_pepper.encode()
    if not settings.api_key_pepper_secret:
        raise UsageError("Set MCP_AUTH_API_KEY_PEPPER_SECRET (or MCP_AUTH_API_KEY_PEPPER locally) to create keys.")
    from mcp_auth.auth.factory import build_secret_store

    store = build_secret_store(settings)
    if store is None:
        raise UsageError("No Secret Manager project is configured (GOOGLE_CLOUD_PROJECT).")
    try:
        return await store.get(settings.api_key_pepper_secret)
    finally:
        store.close()


async def _create(args: argparse.Namespace, settings: Settings) -> str:
    record = await (await user_repository(settings)).get(args.user)
    if record is None:
        raise UsageError(f"No user record {args.user!r}: create it first ('mcp-auth users create').")
    granted = scopes(args.scopes) if args.scopes is not None else sorted(record.scopes)
    expires = datetime.now(UTC) + timedelta(days=args.ttl_days) if args.ttl_days else None
    key, full = await (await _repository(settings)).create(
        uid=args.user, scopes=granted, name=args.name, expires_at=expires, pepper=await _pepper(settings)
    )
    return json.dumps({**key.public(), "key": full}, indent=2) + "\n# Store the key now: it is not shown again."


async def _list(args: argparse.Namespace, settings: Settings) -> str:
    keys = await (await _repository(settings)).list_for(args.user)
    return json.dumps([k.public() for k in keys], indent=2)


async def _revoke(args: argparse.Namespace, settings: Settings) -> str:
    if not args.key_id.isalnum() or len(args.key_id) != 16:
        raise UsageError("A key id is the 16 letters and digits after 'mak_' (see 'mcp-auth keys list').")
    if not await (await _repository(settings)).revoke(args.key_id):
        raise UsageError(f"No API key with id {args.key_id!r}.")
    return f"revoked {args.key_id}"


def _name(value: str) -> str:
    if len(value) > 100 or not value.isprintable():
        raise argparse.ArgumentTypeError("--name is up to 100 printable characters")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="API keys.").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="Create an API key for a user and print it once.")
    create.add_argument("--user", required=True)
    create.add_argument("--scopes", help="Comma-separated scopes (default: the user record's scopes).")
    create.add_argument("--name", type=_name, default="", help="A label to recognise the key by.")
    create.add_argument(
        "--ttl-days",
        type=bounded_int("--ttl-days", 1, 3650),
        default=None,
        help="Days until the key expires (default: never).",
    )
    create.set_defaults(run=_create)
    listing = keys.add_parser("list", help="List a user's keys (never their secrets).")
    listing.add_argument("--user", required=True)
    listing.set_defaults(run=_list)
    revoke = keys.add_parser("revoke", help="Revoke a key by its id.")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke)
