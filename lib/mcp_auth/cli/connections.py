"""``mcp-auth connections list|delete --user U``: a user's connected accounts (never their tokens).

``delete`` disconnects through ``TokenVault.disconnect``: revoked at the provider where it has a revocation
endpoint (GitHub's grant deletion, RFC 7009 ``revoke_url``), then deleted. Erasure (``mcp-auth users delete U
--erase``) calls ``disconnect_all`` first, the same path, before it deletes the user's documents.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from mcp_auth.cli._common import UsageError
from mcp_auth.config import Settings

if TYPE_CHECKING:
    from mcp_auth.connections.vault import TokenVault


def _vault(settings: Settings) -> TokenVault:
    from mcp_auth.auth.factory import build_secret_store
    from mcp_auth.connections.setup import build_vault

    vault = build_vault(settings, build_secret_store(settings))
    if vault is None:
        raise UsageError("No connected-account providers are configured (MCP_AUTH_CONNECTIONS).")
    return vault


async def _list(args: argparse.Namespace, settings: Settings) -> str:
    rows = [
        {
            "provider": c.provider,
            "scopes": list(c.scopes),
            "expires_at": c.expires_at,
            "refreshable": c.has_refresh,
            "connected_at": c.connected_at.isoformat() if c.connected_at else None,
            "updated_at": c.updated_at.isoformat() if c.updated_at else None,
            "key_id": c.key_id,
        }
        for c in await _vault(settings).connections(args.user)
    ]
    return json.dumps(rows, indent=2)


async def _delete(args: argparse.Namespace, settings: Settings) -> str:
    vault = _vault(settings)
    names = [args.provider] if args.provider else [c.provider for c in await vault.connections(args.user)]
    if args.provider and args.provider not in vault.providers:
        raise UsageError(
            f"{args.provider!r} is not a configured provider; known: {', '.join(sorted(vault.providers))}."
        )
    deleted = await _disconnect(vault, args.user, names)
    if not deleted:
        raise UsageError(f"{args.user!r} has no connected account{' for ' + args.provider if args.provider else ''}.")
    return "\n".join(f"disconnected {name} (revoked at the provider where it allows)" for name in deleted)


async def disconnect_all(settings: Settings, uid: str) -> list[str]:
    """Every connected account of ``uid`` revoked at its provider and deleted, as ``connections delete`` does;
    the providers disconnected. Nothing when MCP_AUTH_CONNECTIONS is not set (erasure still deletes the tokens)."""
    if not settings.connections:
        return []
    vault = _vault(settings)
    return await _disconnect(vault, uid, [c.provider for c in await vault.connections(uid)])


async def _disconnect(vault: TokenVault, uid: str, names: list[str]) -> list[str]:
    return [name for name in names if await vault.disconnect(uid, name)]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("connections", help="Users' connected accounts.").add_subparsers(
        dest="action", required=True
    )
    listing = group.add_parser("list", help="List a user's connected accounts (never their tokens).")
    listing.add_argument("--user", required=True)
    listing.set_defaults(run=_list)
    delete = group.add_parser("delete", help="Disconnect: revoke at the provider, then delete the tokens.")
    delete.add_argument("--user", required=True)
    delete.add_argument("--provider", help="One provider (default: every connected account of the user).")
    delete.set_defaults(run=_delete)
