"""``mcp-auth users …``: user records in Firestore.

    create U [--toolsets a,b] [--scopes a,b]     show U
    disable U | enable U                         grant U SCOPES | revoke U SCOPES
    toolsets U [--add a,b] [--remove c] [--set a,b]

Toolset names are checked against the team's factory (``MCP_AUTH_FACTORY``,
default ``factory:FACTORY``; run with the functions source on the path, e.g.
``PYTHONPATH=functions``): a typo is an error, not a silently ignored name.
Every change is an atomic update of the record.
"""

from __future__ import annotations

import argparse

from mcp_auth.cli._common import UsageError, scopes, show_record, toolsets, user_repository
from mcp_auth.config import Settings

MAX_ITEMS = 100


async def _create(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import UserRecord, validate_uid

    record = UserRecord(
        uid=validate_uid(args.user),
        scopes=frozenset(_bounded(scopes(args.scopes))),
        toolsets=frozenset(_known_toolsets(_bounded(toolsets(args.toolsets)), settings)),
    )
    repo = await user_repository(settings)
    if await repo.get(args.user) is not None:
        raise UsageError(f"User {args.user!r} already exists: see it with 'mcp-auth users show {args.user}'.")
    return show_record(await repo.create(record))


async def _show(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    record = await (await user_repository(settings)).get(validate_uid(args.user))
    if record is None:
        raise UsageError(f"No user record {args.user!r}.")
    return show_record(record)


async def _status(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    status = "disabled" if args.action == "disable" else "active"
    return show_record(await (await user_repository(settings)).update(validate_uid(args.user), status=status))


async def _scopes(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    values = _bounded(scopes(args.scopes))
    if not values:
        raise UsageError(f"Name the scopes to {args.action}, comma-separated.")
    repo = await user_repository(settings)
    return show_record(await repo.change(validate_uid(args.user), "scopes", values, remove=args.action == "revoke"))


async def _toolsets(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    uid = validate_uid(args.user)
    add, remove = _bounded(toolsets(args.add)), _bounded(toolsets(args.remove))
    replace = _bounded(toolsets(args.set)) if args.set is not None else None
    if replace is not None and (add or remove):
        raise UsageError("Use either --set or --add/--remove, not both.")
    if set(add) & set(remove):
        raise UsageError(f"{sorted(set(add) & set(remove))} are both added and removed: choose one.")
    _known_toolsets([*add, *(replace or [])], settings)
    repo = await user_repository(settings)
    if replace is not None:
        return show_record(await repo.update(uid, toolsets=replace))
    if not add and not remove:
        return await _show(args, settings)
    if add:
        record = await repo.change(uid, "toolsets", add)
    if remove:
        record = await repo.change(uid, "toolsets", remove, remove=True)
    return show_record(record)


def _bounded(items: list[str]) -> list[str]:
    if len(items) > MAX_ITEMS:
        raise UsageError(f"At most {MAX_ITEMS} names at a time, got {len(items)}.")
    return items


def _known_toolsets(names: list[str], settings: Settings) -> list[str]:
    """Names of toolsets the team's factory holds; anything else is a usage error."""
    if not names:
        return names
    from mcp_auth.toolsets import load_factory

    known = load_factory(settings.factory).toolsets
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UsageError(f"Unknown toolset(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    return names


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
    for action, text in (("disable", "Refuse the user's requests (403)."), ("enable", "Serve the user again.")):
        parser = users.add_parser(action, help=text)
        parser.add_argument("user")
        parser.set_defaults(run=_status)
    for action, text in (("grant", "Allow scopes (comma-separated)."), ("revoke", "Withdraw scopes.")):
        parser = users.add_parser(action, help=text)
        parser.add_argument("user")
        parser.add_argument("scopes")
        parser.set_defaults(run=_scopes)
    sets = users.add_parser("toolsets", help="Show or change the user's toolsets.")
    sets.add_argument("user")
    sets.add_argument("--add", default="", help="Comma-separated toolsets to enable.")
    sets.add_argument("--remove", default="", help="Comma-separated toolsets to disable.")
    sets.add_argument("--set", default=None, help="Replace the toolsets with exactly these.")
    sets.set_defaults(run=_toolsets)
