"""``mcp-auth groups …``: which toolsets and scopes membership in an upstream group grants.

    map GROUP [--toolsets a,b] [--scopes a,b]     add to what GROUP grants
    unmap GROUP [--toolsets a,b] [--scopes a,b]   take from it (neither option: the whole group)
    list [--format table|json]                    the mapping: this document and the deployment's

The document edited here (``meta/group_grants``) is merged with the deployment's
``MCP_AUTH_OAUTH_GROUP_GRANTS`` (Terraform ``oauth.group_grants``). A change reaches a member at their
next sign-in or token refresh (``mcp_auth.oauth.groups``); ``mcp-auth users show U`` says where each of a
user's toolsets and scopes came from. Toolset names are checked against the team's factory, as with
``mcp-auth users toolsets``.
"""

from __future__ import annotations

import argparse
import json

from mcp_auth.cli._common import UsageError, scopes, toolsets
from mcp_auth.config import Settings


def _grants(settings: Settings):  # type: ignore[no-untyped-def]
    from mcp_auth.grants import configured_mapping
    from mcp_auth.oauth.groups import GroupGrants
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.users import UserRepository

    client = firestore_client(project=settings.project, database=settings.firestore_database)
    return GroupGrants(
        configured=configured_mapping(settings.oauth_group_grants), client=client, users=UserRepository(client)
    )


def _group(value: str) -> str:
    from mcp_auth.grants import InvalidMapping, validate_group

    try:
        return validate_group(value)
    except InvalidMapping as exc:
        raise UsageError(exc.message) from None


async def _map(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.cli.users import bounded, known_toolsets

    group = _group(args.group)
    names = known_toolsets(bounded(toolsets(args.toolsets)), settings)
    granted = bounded(scopes(args.scopes))
    if args.action == "map":
        if not names and not granted:
            raise UsageError("Name what the group grants: --toolsets a,b and/or --scopes a,b.")
        mapping = await _grants(settings).map(group, toolsets=names, scopes=granted)
    else:
        every = not names and not granted
        mapping = await _grants(settings).unmap(
            group, toolsets=None if every else names, scopes=None if every else granted
        )
    return _show({"mcp-auth groups": mapping}) + (
        "\n# Members get the change at their next sign-in or token refresh; "
        "'mcp-auth users show U' explains a user's grants."
    )


async def _list(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.grants import configured_mapping

    stored = await _grants(settings).stored()
    both = {"deployment": configured_mapping(settings.oauth_group_grants), "mcp-auth groups": stored}
    if args.format == "json":
        return _show(both)
    lines = ["SOURCE           GROUP                            TOOLSETS                 SCOPES"]
    for source, mapping in both.items():
        for group, grant in sorted(mapping.items()):
            lines.append(
                f"{source:<16} {group:<32} {','.join(sorted(grant.toolsets)) or '-':<24} "
                f"{','.join(sorted(grant.scopes)) or '-'}"
            )
    return "\n".join(lines) if len(lines) > 1 else "# No group is mapped."


def _show(sources: dict[str, dict[str, object]]) -> str:
    from mcp_auth.grants import Grant

    def plain(grant: object) -> object:
        if isinstance(grant, Grant):
            return {"toolsets": sorted(grant.toolsets), "scopes": sorted(grant.scopes)}
        return grant

    return json.dumps(
        {source: {group: plain(grant) for group, grant in sorted(m.items())} for source, m in sources.items()},
        indent=2,
        sort_keys=True,
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    groups = sub.add_parser("groups", help="Toolsets and scopes granted by upstream groups.").add_subparsers(
        dest="action", required=True
    )
    for action, text in (
        ("map", "Add toolsets and scopes to what a group grants."),
        ("unmap", "Take toolsets and scopes from a group (neither option: the whole group)."),
    ):
        parser = groups.add_parser(action, help=text)
        parser.add_argument("group", help="The group (or app role) as the provider names it in the ID token.")
        parser.add_argument("--toolsets", default="", help="Comma-separated toolsets.")
        parser.add_argument("--scopes", default="", help="Comma-separated scopes.")
        parser.set_defaults(run=_map)
    listing = groups.add_parser("list", help="Print the mapping (the deployment's and this database's).")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(run=_list)
