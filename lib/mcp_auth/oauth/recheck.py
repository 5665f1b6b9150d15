"""Each refresh of our tokens asks the sign-in provider about the account again.

At sign-in, a ``Rechecking`` step (``Upstream``, ``GitHubSignIn``) hands back what it needs to ask again:
an OpenID provider's refresh token, GitHub's access token (and its refresh token where the app's tokens
expire). ``keep`` seals it (AES-256-GCM, ``connections.sealing.Sealer``, under keys derived from the
signing key: ``keys.SigningKeys.sealing_keys``; bound to the user) and the consent step stores it on the
sign-in's refresh-token family (``oauth_families/{family}.upstream``). It never reaches a log line, an
MCP client or Firestore in the clear.

At each refresh, ``ask_again`` opens it, has the step ask the provider (an OIDC refresh_token grant and
its new ID token; GitHub's /user, organization membership and teams) and has the sign-in rules check the
answer (``SignInPolicy.recheck``: tenant, organization, domain rules, and the groups stored with what the
mapping grants them now). So a person removed from a mapped group upstream loses its toolsets by their
next refresh, and one removed from the provider, the organization or its required teams gets no token.

    the provider refuses (revoked grant, account gone, not admitted)   ``Refused``: invalid_grant, the
                                                                        family is revoked: sign in again
    the provider cannot be asked (unreachable, 5xx, rate-limited),     ``Unavailable``: 503
    or Firestore cannot be written                                     temporarily_unavailable, the refresh
                                                                        token stays valid: retry

Where the provider rotated its tokens before the failure (an OIDC refresh answered, then Graph failed; GitHub's
token refreshed, then its API failed; the store failed), the rotated grant is sealed and kept all the same
(``Unavailable.resealed``), so the retry does not present a spent refresh token.

Fail closed: no token is issued on groups the provider was not asked about. A sign-in that kept nothing
(one made before this check existed, or a provider that gave no refresh token) cannot be renewed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp_auth.connections.sealing import Unsealable
from mcp_auth.errors import McpAuthError
from mcp_auth.oauth.signin import SignInRefused
from mcp_auth.oauth.upstream import Rechecking

if TYPE_CHECKING:
    from mcp_auth.oauth.server import AuthorizationServer

logger = logging.getLogger("mcp_auth.oauth")
CONTEXT = "oauth-upstream"


class Refused(Exception):
    """The provider no longer accepts the sign-in or admits the account; the message says what happened."""


class Unavailable(Exception):
    """The provider (or the store) cannot be asked now; the message says why. ``resealed``: the grant sealed
    anew where the provider rotated its tokens before the failure (keep it, or the retry presents a spent one)."""

    def __init__(self, message: str, *, resealed: str | None = None) -> None:
        super().__init__(message)
        self.resealed = resealed


def rechecks(server: AuthorizationServer) -> bool:
    """Whether refreshes on ``server`` ask its sign-in provider again (not with the local development page)."""
    return isinstance(server.upstream, Rechecking) and callable(getattr(server.policy, "recheck", None))


async def keep(server: AuthorizationServer, uid: str, grant: Mapping[str, Any] | None) -> str | None:
    """``grant`` (what the step kept at sign-in) sealed for ``uid``; None where nothing is kept."""
    if not rechecks(server):
        return None
    if grant is None:
        logger.warning(
            "sign-in of uid %s: the provider gave no refresh token, so this sign-in cannot be renewed; "
            "enable offline access for the app at the provider (docs/authorization-server.md)",
            uid,
        )
        return None
    return await _seal(server, uid, grant)


async def ask_again(server: AuthorizationServer, uid: str, sealed: Any) -> str | None:
    """Ask the provider about ``uid``'s account with the sign-in's ``sealed`` grant and apply the answer;
    the grant sealed anew where the provider rotated its tokens, else None."""
    if not isinstance(sealed, str) or not sealed:
        raise Refused(
            "This sign-in kept no offline access to the sign-in provider, so the provider cannot be asked "
            "about the account again: sign in again."
        )
    try:
        grant = json.loads(await server.sealer.open(sealed, context=_context(uid)))
    except (Unsealable, ValueError):
        raise Refused(
            "This sign-in's access to the sign-in provider no longer opens (the authorization server's key was "
            "rotated since): sign in again."
        ) from None
    step = server.upstream
    if not isinstance(grant, dict) or not isinstance(step, Rechecking):
        raise Refused("This sign-in's access to the sign-in provider is unusable: sign in again.")
    try:
        claims, kept = await step.recheck(grant)
    except SignInRefused as exc:
        raise Refused(str(exc)) from None
    except McpAuthError as exc:  # the provider unreachable: nothing was decided
        rotated = getattr(exc, "grant", None)  # Graph failed after the provider rotated its refresh token
        raise Unavailable(exc.message, resealed=await _reseal(server, uid, grant, rotated)) from None
    try:
        await server.policy.recheck(uid, claims)  # type: ignore[attr-defined]
    except SignInRefused as exc:
        raise Refused(str(exc)) from None
    except McpAuthError as exc:  # the store: nothing was decided, but the provider's rotated token is kept
        raise Unavailable(exc.message, resealed=await _reseal(server, uid, grant, kept)) from None
    return None if kept == grant else await _seal(server, uid, kept)


async def _reseal(server: AuthorizationServer, uid: str, grant: Mapping[str, Any], kept: Any) -> str | None:
    """``kept`` sealed where it differs from ``grant`` (the provider rotated its tokens), else None; None too
    where it cannot be sealed now (the retry then finds the provider's previous token, as before)."""
    if not isinstance(kept, dict) or kept == grant:
        return None
    try:
        return await _seal(server, uid, kept)
    except McpAuthError:
        logger.warning("refresh of uid %s: the provider's rotated token could not be sealed to keep", uid)
        return None


async def _seal(server: AuthorizationServer, uid: str, grant: Mapping[str, Any]) -> str:
    return await server.sealer.seal(json.dumps(dict(grant), separators=(",", ":")).encode(), context=_context(uid))


def _context(uid: str) -> str:
    return f"{CONTEXT}|{uid}"
