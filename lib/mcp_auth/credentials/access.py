"""What tool handlers call: the current user's credential for a provider.

    credential = await user_credential("github", display_name="GitHub")
    headers = {"Authorization": credential.authorization}     # to that provider's API only

The MCP endpoint puts the deployment's resolver (and, if it is forwarded, the
caller's bearer token) in the request's context (``mcp_auth.context``). Failures are framework errors
(``CredentialNotConnected``, ``CredentialUnavailable``, ``CredentialsNotConfigured``)
whose messages tell the user what to do; a toolset's handler lets them propagate and
the framework turns them into MCP tool errors (``toolsets.py``). Never an HTTP 500 and
never another user's credential: the user id always comes from the authenticated request.
"""

from __future__ import annotations

import logging

from mcp_auth.context import current_request
from mcp_auth.credentials.model import Credential, CredentialNotConnected, CredentialsNotConfigured
from mcp_auth.errors import CredentialUnavailable, McpAuthError, StoreUnavailable

logger = logging.getLogger("mcp_auth.credentials")


async def user_credential(provider: str, *, display_name: str | None = None) -> Credential:
    """The calling user's credential for ``provider``.

    Raises ``CredentialNotConnected`` (the user must connect the account), ``CredentialUnavailable``
    (retry later) or ``CredentialsNotConfigured`` (the deployment has no credential source)."""
    request = current_request()
    if request.resolver is None:
        raise CredentialsNotConfigured(
            f"This server is not set up to reach {display_name or provider} on your behalf "
            "(no platform credential API is configured); tell an administrator."
        )
    try:
        return await request.resolver.resolve(
            request.user.user_id, provider, user_token=request.user_token, display_name=display_name
        )
    except (CredentialNotConnected, CredentialUnavailable, StoreUnavailable):
        raise
    except McpAuthError as exc:  # e.g. the service token could not be read: an operator's problem
        logger.error("Could not resolve a %s credential: %s", provider, exc.message)
        raise CredentialUnavailable(
            f"Your {display_name or provider} credential cannot be fetched right now; try again later."
        ) from None


def forget_user_credential(provider: str, credential: Credential | None = None) -> None:
    """After the provider rejected ``credential``: drop this instance's cached copy of it; a connected
    account's token is refreshed (or, without a refresh token, the user connects again) at its next use."""
    request = current_request()
    if request.resolver is not None:
        token = credential.access_token if credential is not None else None
        request.resolver.forget(request.user.user_id, provider, token)
