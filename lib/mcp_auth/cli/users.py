"""``mcp-auth users …``: user records in Firestore.

    create U [--toolsets a,b] [--scopes a,b]     show U (with where each toolset and scope came from)
    disable U | enable U                         grant U SCOPES | revoke U SCOPES
    sign-out U                                   every credential issued before now is refused
    toolsets U [--add a,b] [--remove c] [--set a,b]
    withhold|unwithhold U [--toolsets a,b] [--scopes a,b]   keep (or stop keeping) group grants from U
    list [--status active|disabled] [--toolset NAME] [--format table|json]
    delete U [--erase [--yes]]                   export U

``delete`` removes the record; ``--erase`` removes every document that holds the
uid, in every collection the framework owns (``mcp_auth.store.erasure``), after
the operator types the uid again (``--yes`` skips that; without a terminal it is
required). Connected accounts are first revoked at their providers and deleted, as
``mcp-auth connections delete`` does (with MCP_AUTH_CONNECTIONS set). ``export`` prints
everything stored about the user as JSON.

A user's toolsets and scopes are those set here plus those their upstream groups grant
(``mcp-auth groups``), minus those withheld here: the per-user settings win both ways.

Toolset names are checked against the team's factory (``MCP_AUTH_FACTORY``,
default ``factory:FACTORY``; run with the functions source on the path, e.g.
``PYTHONPATH=functions``): a typo is an error, not a silently ignored name.
Every change is an atomic update of the record, announced to every serving instance in the same
write (``mcp_auth.store.revocations``): it holds from the next request on, wherever it lands.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mcp_auth.cli._common import UsageError, scopes, show_record, toolsets, user_repository
from mcp_auth.config import Settings

MAX_ITEMS = 100
LIST_PAGE = 200


async def _create(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import UserRecord, validate_uid

    record = UserRecord(
        uid=validate_uid(args.user),
        scopes=frozenset(bounded(scopes(args.scopes))),
        toolsets=frozenset(known_toolsets(bounded(toolsets(args.toolsets)), settings)),
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
    return _explained(record)


def _explained(record: Any) -> str:
    """The record, and where each toolset and scope the user has came from (``sources``: the record by hand,
    a group and which mapping, or withheld), with the upstream groups of the last sign-in."""
    shown = json.loads(show_record(record))
    shown["sources"] = record.explain()
    return json.dumps(shown, indent=2, sort_keys=True)


async def _withhold(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    uid = validate_uid(args.user)
    names, granted = bounded(toolsets(args.toolsets)), bounded(scopes(args.scopes))
    if not names and not granted:
        raise UsageError("Name what to withhold (or give back): --toolsets a,b and/or --scopes a,b.")
    repo = await user_repository(settings)
    remove = args.action == "unwithhold"
    record = None
    if names:
        record = await repo.change(uid, "withheld_toolsets", names, remove=remove)
    if granted:
        record = await repo.change(uid, "withheld_scopes", granted, remove=remove)
    return _explained(record)


async def _status(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    status = "disabled" if args.action == "disable" else "active"
    return show_record(await (await user_repository(settings)).update(validate_uid(args.user), status=status))


async def _sign_out(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.oauth.store import OAuthStore
    from mcp_auth.store.users import validate_uid

    uid = validate_uid(args.user)
    record = await (await user_repository(settings)).sign_out(uid)
    ended = await OAuthStore.for_settings(
        project=settings.project, database=settings.firestore_database
    ).revoke_user_families(uid)
    return "\n".join(
        [
            show_record(record),
            f"# Signed out {uid!r}: every token and API key issued before tokens_valid_after is refused from the "
            f"next request on; {ended} sign-in(s) of the built-in authorization server ended (their refresh tokens "
            "no longer work). The user signs in again; API keys are made anew with 'mcp-auth keys create'.",
        ]
    )


async def _scopes(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    values = bounded(scopes(args.scopes))
    if not values:
        raise UsageError(f"Name the scopes to {args.action}, comma-separated.")
    repo = await user_repository(settings)
    return show_record(await repo.change(validate_uid(args.user), "scopes", values, remove=args.action == "revoke"))


async def _toolsets(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    uid = validate_uid(args.user)
    add, remove = bounded(toolsets(args.add)), bounded(toolsets(args.remove))
    replace = bounded(toolsets(args.set)) if args.set is not None else None
    if replace is not None and (add or remove):
        raise UsageError("Use either --set or --add/--remove, not both.")
    if set(add) & set(remove):
        raise UsageError(f"{sorted(set(add) & set(remove))} are both added and removed: choose one.")
    known_toolsets([*add, *(replace or [])], settings)
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


async def _list(args: argparse.Namespace, settings: Settings) -> str:
    names = toolsets(args.toolset)
    if len(names) > 1:
        raise UsageError("--toolset takes one toolset name.")
    toolset = names[0] if names else None
    repo = await user_repository(settings)
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        records, cursor = await repo.page(status=args.status, toolset=toolset, size=LIST_PAGE, after=cursor)
        rows += [
            {"uid": r.uid, "status": r.status, "toolsets": sorted(r.toolsets), "scopes": sorted(r.scopes)}
            for r in records
        ]
        if cursor is None:
            break
    if args.format == "json":
        return json.dumps(rows, indent=2)
    table = [("UID", "STATUS", "TOOLSETS", "SCOPES")]
    table += [(r["uid"], r["status"], ",".join(r["toolsets"]) or "-", ",".join(r["scopes"]) or "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3]]) for row in table]
    return "\n".join([*lines, f"{len(rows)} user(s)"])


async def _delete(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    uid = validate_uid(args.user)
    if not args.erase:
        if args.yes:
            raise UsageError("--yes only applies to --erase.")
        if not await (await user_repository(settings)).delete(uid):
            raise UsageError(f"No user record {uid!r}: see the ids with 'mcp-auth users list'.")
        return (
            f"Deleted the user record {uid!r}. Its other data (notes, tasks, API keys, sign-in links, audit "
            f"records) stays; 'mcp-auth users delete {uid} --erase' removes it too."
        )
    if not args.yes:
        _confirm(uid)
    from mcp_auth.cli.connections import disconnect_all

    disconnected = await disconnect_all(settings, uid)  # revoked at each provider first, as `connections delete`
    removed = await (await _user_data(settings, uid)).erase()
    if disconnected:
        key = "users/{uid}/connections"
        removed[key] = removed.get(key, 0) + len(disconnected)
    if not any(removed.values()):
        raise UsageError(f"Nothing is stored about {uid!r} (no record, no data): check the id.")
    rows = [*removed.items(), ("total", sum(removed.values()))]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {count}" for name, count in rows]
    report = [f"Erased user {uid!r}; documents removed per collection:", *lines]
    if disconnected:
        report.insert(0, f"Disconnected {', '.join(disconnected)} (revoked at the provider where it allows).")
    return "\n".join(report)


async def _export(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    uid = validate_uid(args.user)
    found = await (await _user_data(settings, uid)).export()
    if not found["collections"]:
        raise UsageError(f"Nothing is stored about {uid!r} (no record, no data): check the id.")
    return json.dumps(found, indent=2, sort_keys=True, ensure_ascii=False)


def _confirm(uid: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError(
            "--erase deletes every trace of the user and cannot be undone: add --yes to run it without a terminal."
        )
    print(
        f"This erases every document stored about {uid!r}, for good. Type the user id to go on: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    if sys.stdin.readline().strip() != uid:
        raise UsageError("Not confirmed: nothing was erased.")


async def _user_data(settings: Settings, uid: str) -> Any:
    """The store's view of one user's data, with the team's tool names (their rate-limit windows are keyed by them)."""
    from mcp_auth.errors import ConfigError
    from mcp_auth.store.erasure import UserData
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.toolsets import load_factory

    try:
        tools = sorted({t.name for ts in load_factory(settings.factory).toolsets.values() for t in ts.tools})
    except ConfigError:
        tools = []  # per-tool windows then age out through their TTL policy (two windows at most)
    return UserData(firestore_client(project=settings.project, database=settings.firestore_database), uid, tools=tools)


def bounded(items: list[str]) -> list[str]:
    if len(items) > MAX_ITEMS:
        raise UsageError(f"At most {MAX_ITEMS} names at a time, got {len(items)}.")
    return items


def known_toolsets(names: list[str], settings: Settings) -> list[str]:
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
    sign_out = users.add_parser(
        "sign-out", help="Refuse every token and API key issued to the user before now, on every instance."
    )
    sign_out.add_argument("user")
    sign_out.set_defaults(run=_sign_out)
    for action, text in (("grant", "Allow scopes (comma-separated)."), ("revoke", "Withdraw scopes.")):
        parser = users.add_parser(action, help=text)
        parser.add_argument("user")
        parser.add_argument("scopes")
        parser.set_defaults(run=_scopes)
    for action, text in (
        ("withhold", "Keep toolsets and scopes the user's groups grant from this user."),
        ("unwithhold", "Let the user's groups grant them again."),
    ):
        parser = users.add_parser(action, help=text)
        parser.add_argument("user")
        parser.add_argument("--toolsets", default="", help="Comma-separated toolsets.")
        parser.add_argument("--scopes", default="", help="Comma-separated scopes.")
        parser.set_defaults(run=_withhold)
    sets = users.add_parser("toolsets", help="Show or change the user's toolsets.")
    sets.add_argument("user")
    sets.add_argument("--add", default="", help="Comma-separated toolsets to enable.")
    sets.add_argument("--remove", default="", help="Comma-separated toolsets to disable.")
    sets.add_argument("--set", default=None, help="Replace the toolsets with exactly these.")
    sets.set_defaults(run=_toolsets)
    listing = users.add_parser("list", help="List user records (every page).")
    listing.add_argument("--status", choices=("active", "disabled"), default=None)
    listing.add_argument("--toolset", default="", help="Only users with this toolset enabled.")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(run=_list)
    delete = users.add_parser("delete", help="Delete a user record; --erase removes all of the user's data.")
    delete.add_argument("user")
    delete.add_argument("--erase", action="store_true", help="Remove every document that holds the uid.")
    delete.add_argument("--yes", action="store_true", help="Do not ask for confirmation (with --erase).")
    delete.set_defaults(run=_delete)
    export = users.add_parser("export", help="Print everything stored about a user as JSON.")
    export.add_argument("user")
    export.set_defaults(run=_export)
