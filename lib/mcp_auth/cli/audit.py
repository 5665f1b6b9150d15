"""``mcp-auth audit list --user U``: a user's audit records kept in Firestore (MCP_AUTH_AUDIT_FIRESTORE=true)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mcp_auth.cli._common import bounded_int
from mcp_auth.config import Settings


async def _list(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.audit import recent_for_user
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.users import validate_uid

    user = validate_uid(args.user)  # InvalidUserId says what a user id may hold
    client = firestore_client(project=settings.project, database=settings.firestore_database)
    docs = await recent_for_user(client, user, limit=args.limit)
    return "\n".join(json.dumps(_printable(doc), sort_keys=True) for doc in docs) or (
        f"# No audit documents for {user!r} (is MCP_AUTH_AUDIT_FIRESTORE=true on the server?)"
    )


def _printable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in doc.items()}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = sub.add_parser("audit", help="Audit records kept in Firestore.")
    actions = audit.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="A user's newest audit records, one JSON object per line.")
    listing.add_argument("--user", required=True)
    listing.add_argument(
        "--limit",
        type=bounded_int("--limit", 1, 1000),
        default=50,
        help="How many records, newest first (1-1000, default 50).",
    )
    listing.set_defaults(run=_list)
