"""``mcp-auth accounts …``: which user record an upstream sign-in account reaches.

    show --sub SUB [--issuer URL]                  the account's link: uid, email
    link U --sub SUB [--issuer URL] [--replace]    from now on the account signs in as user U

An account is the OpenID provider's issuer (default ``MCP_AUTH_OAUTH_UPSTREAM_ISSUER``) and its
``sub``; the server's sign-in log lines ("signed in: uid …, account SUB at ISSUER" and "sign-in
refused: account SUB at ISSUER") name both. ``link`` is how a record keyed by an old email address
is given to its owner after the address changed; a record another account has claimed is taken
from it only with ``--replace``.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from mcp_auth.cli._common import UsageError
from mcp_auth.config import Settings

_SUB = re.compile(r"^[\x21-\x7E]{1,255}$")
_ISSUER = re.compile(r"^https?://[\x21-\x7E]{1,2000}$")


def _account(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    issuer = args.issuer or settings.oauth_upstream_issuer
    if not _ISSUER.fullmatch(issuer):
        raise UsageError(f"--issuer takes the provider's issuer URL (https://…), got {issuer[:80]!r}.")
    if not _SUB.fullmatch(args.sub):
        raise UsageError("--sub takes the account's subject identifier: 1-255 printable characters, no spaces.")
    return issuer.rstrip("/"), args.sub


async def _links(settings: Settings) -> Any:
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.identities import IdentityLinks

    return IdentityLinks(firestore_client(project=settings.project, database=settings.firestore_database))


async def _show(args: argparse.Namespace, settings: Settings) -> str:
    issuer, sub = _account(args, settings)
    link = await (await _links(settings)).get(issuer, sub)
    if link is None:
        raise UsageError(f"The account {sub!r} at {issuer} has never signed in here (no link).")
    return json.dumps(
        {"uid": link.uid, "issuer": link.issuer, "sub": link.sub, "email": link.email}, indent=2, sort_keys=True
    )


async def _link(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.users import validate_uid

    issuer, sub = _account(args, settings)
    done = await (await _links(settings)).assign(
        issuer=issuer, sub=sub, uid=validate_uid(args.user), replace=args.replace
    )
    return json.dumps(
        {
            "uid": done.link.uid,
            "issuer": done.link.issuer,
            "sub": done.link.sub,
            "email": done.link.email,
            "previous_uid": done.previous_uid,
            "displaced": None if done.displaced is None else {"sub": done.displaced.sub, "email": done.displaced.email},
        },
        indent=2,
        sort_keys=True,
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    accounts = sub.add_parser("accounts", help="Which user record an upstream sign-in account reaches.")
    actions = accounts.add_subparsers(dest="action", required=True)
    account = argparse.ArgumentParser(add_help=False)
    account.add_argument("--sub", required=True, help="The account's subject identifier at the provider.")
    account.add_argument(
        "--issuer", default=None, help="The provider's issuer URL (default: MCP_AUTH_OAUTH_UPSTREAM_ISSUER)."
    )
    show = actions.add_parser("show", help="Print the account's link.", parents=[account])
    show.set_defaults(run=_show)
    link = actions.add_parser("link", help="Make the account sign in as an existing user.", parents=[account])
    link.add_argument("user", help="The user id (an existing record).")
    link.add_argument("--replace", action="store_true", help="Take the record from the account that has claimed it.")
    link.set_defaults(run=_link)
