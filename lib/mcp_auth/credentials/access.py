"""What tool handlers call: the current user's credential for a provider.

    credential = await user_credential("github", display_name="GitHub")
    headers = {"Authorization": credential.authorization}     # to that provider's API only

``wrap_server`` puts the deployment's resolver (and, if it is forwarded, the
caller's bearer token) in scope for each MCP request. Failures are framework errors
(``CredentialNotConnected``, ``CredentialUnavailable``, ``CredentialsNotConfigured``)
whose messages tell the user what to do; a toolset's handler lets them propagate and
the framework turns them into MCP tool errors (``toolsets.py``). Never an HTTP 500 and
never another user's credential: the user id always comes from the authenticated request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from mcp_auth.context import current_user
from mcp_auth.credentials.model import Credential, CredentialNotConnected, CredentialsNotConfigured
from mcp_auth.errors import CredentialUnavailable, McpAuthError, StoreUnavailable

if TYPE_CHECKING:
    from mcp_auth.credentials.resolver import CredentialResolver

logger = logging.getLogger("mcp_auth.credentials")


@dataclass(frozen=True, slots=True)
class _Scope:
    resolver: CredentialResolver
    user_token: str | None


_scope: ContextVar[_Scope | None] = ContextVar("mcp_auth_credential_scope", default=None)


@contextmanager
def credential_scope(resolver: CredentialResolver | None, request: Request | None = None, *,
                     forward_user_token: bool = False) -> Iterator[None]:
    """Make ``resolver`` the one ``user_credential`` uses while serving ``request``."""
    if resolver is None:
        yield
        return
    user_token = _bearer(request) if forward_user_token and request is not None else None
    token = _scope.set(_Scope(resolver, user_token))
    try:
        yield
    finally:
        _scope.reset(token)


async def user_credential(provider: str, *, display_name: str | None = None) -> Credential:
    """The calling user's credential for ``provider``.

    Raises ``CredentialNotConnected`` (the user must connect the account), ``CredentialUnavailable``
    (retry later) or ``CredentialsNotConfigured`` (the deployment has no credential source)."""
    scope = _scope.get()
    if scope is None:
        raise CredentialsNotConfigured(
            f"This server is not set up to reach {display_name or provider} on your behalf "
            "(no platform credential API is configured); tell an administrator."
        )
    user = current_user()
    try:
        return await scope.resolver.resolve(user.user_id, provider, user_token=scope.user_token,
                                            display_name=display_name)
    except (CredentialNotConnected, CredentialUnavailable, StoreUnavailable):
        raise
    except McpAuthError as exc:  # e.g. the service token could not be read: an operator's problem
        logger.error("Could not resolve a %s credential: %s", provider, exc.message)
        raise CredentialUnavailable(
            f"Your {display_name or provider} credential cannot be fetched right now; try again later."
        ) from None


def forget_user_credential(provider: str) -> None:
    """After the provider rejected the credential: drop this instance's cached copy of it."""
    scope = _scope.get()
    if scope is not None:
        scope.resolver.forget(current_user().user_id, provider)


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
