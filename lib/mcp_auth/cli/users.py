"""``mcp-auth users …``: user records in Firestore."""

from __future__ import annotations

import argparse

from mcp_auth.cli._common import UsageError, scopes, show_record, toolsets, user_repository
from mcp_auth.config import Settings


async def _create(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import UserRecord, validate_uid

    record = UserRecord(
        uid=validate_uid(args.user),
        scopes=frozenset(scopes(args.scopes)),
        toolsets=frozenset(toolsets(args.toolsets)),
    )
    repo = await user_repository(settings)
    if await repo.get(args.user) is not None:
        raise UsageError(f"User {args.user!r} already exists: see it with 'mcp-auth users show {args.user}'.")
    return show_record(await repo.create(record))


async def _show(args: argparse.Namespace, settings: Settings) -> str:
    record = await (await user_repository(settings)).get(args.user)
    if record is None:
        raise UsageError(f"No user record {args.user!r}.")
    return show_record(record)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    users = sub.add_parser("users", help="User records in Firestore.").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="Create a user record.")
    create.add_argument("user")
    create.add_argument("--toolsets", default="", help="Comma-separated toolsets to enable.")
    create.add_argument("--scopes", default="", help="Comma-separated scopes to grant.")
    create.set_defaults(run=_create)
    show = users.add_parser("show", help="Print a user record.")
    show.add_argument("user")
    show.set_defaults(run=_show)
