"""A user's downstream credential from the vault first, then the platform; and when neither has one, connect.

    resolve(user, provider)
      1. the token vault (``users/{uid}/connections/{provider}``), if the provider is configured there
      2. the platform, if one is configured
      3. neither: mint a connect link for this user, provider and tool call, then
           - a client that declared URL elicitation, on 2026-07-28: the call answers the JSON-RPC error
             -32042 (URL elicitation required) carrying the link; the client sends the user there and
             calls the tool again, on any instance, which finds the new token in the vault
           - a handshake-era client, with the back-channel (its capabilities are not known to a stateless
             server: one that cannot elicit a URL refuses the request and gets the link as below):
             the call elicits the link (``elicitation/create``, mode "url") and, once the client accepts,
             waits for the connection to appear in the vault, tells the client the elicitation is
             complete (``notifications/elicitation/complete``) and continues with the new token; the
             answer may reach any instance (``backchannel/``), the vault is read from Firestore
           - any other client: ``CredentialNotConnected``, a tool error that carries the link

A token the provider rejected (``forget_user_credential``, after the API answered 401) is settled before
the tool call answers: the vault refreshes it, or removes the connection when the provider refuses the
refresh too (revoked at the provider). Every instance reads the outcome from Firestore, so the next call,
wherever it lands, uses the new token or sends the user to connect again.

``CallContext`` is the per-user chain's middleware that makes the MCP request of the running tool call
reachable from ``user_credential`` (which tool handlers call without the SDK's context), and waits for
the settling of the tokens rejected during the call.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp_types import ElicitRequestURLParams

from mcp_auth.credentials.model import Credential, CredentialNotConnected, Resolver, validate_provider

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

    from mcp_auth.connections.links import ConnectLinks
    from mcp_auth.connections.vault import TokenVault

logger = logging.getLogger("mcp_auth.connections")

#: The first protocol version whose tool calls cannot send a request to the client mid-call.
INPUT_REQUIRED_VERSION = "2026-07-28"

#: Seconds a tool call's answer waits for the tokens rejected during it to be refreshed or removed.
SETTLE_SECONDS = 15.0

_call: ContextVar[ServerRequestContext[Any, Any] | None] = ContextVar("mcp_auth_tool_call", default=None)
_settling: ContextVar[list[asyncio.Task[None]] | None] = ContextVar("mcp_auth_settling", default=None)
_running: set[asyncio.Task[None]] = set()  # strong references until each settling ends


class CallContext:
    """Per-user chain middleware: the running ``tools/call``'s MCP request, for ``ConnectingResolver``;
    the call answers once the tokens rejected during it are settled (refreshed, or the connection removed)."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        pending: list[asyncio.Task[None]] = []
        token, settling = _call.set(ctx), _settling.set(pending)
        try:
            result = await call_next(ctx)
        finally:
            _call.reset(token)
            _settling.reset(settling)
        if pending:
            await asyncio.wait(pending, timeout=SETTLE_SECONDS)
        return result


class ConnectingResolver:
    """The vault, then the platform; when neither has a credential, sends the user to connect."""

    def __init__(
        self,
        *,
        vault: TokenVault,
        links: ConnectLinks,
        base_url: str,
        platform: Resolver | None = None,
        wait: float = 120.0,
        poll: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if wait < 0 or poll <= 0:
            raise ValueError("wait must not be negative and poll must be positive")
        self._vault, self._links, self._base_url, self._platform = vault, links, base_url, platform
        self._wait, self._poll, self._clock = wait, poll, clock

    def __repr__(self) -> str:
        return f"ConnectingResolver(vault={self._vault!r}, platform={self._platform!r})"

    async def resolve(
        self, user_id: str, provider: str, *, user_token: str | None = None, display_name: str | None = None
    ) -> Credential:
        validate_provider(provider)
        in_vault = provider in self._vault.providers
        if in_vault:
            found = await self._vault.credential(user_id, provider)
            if found is not None:
                return found
        if self._platform is not None:
            try:
                return await self._platform.resolve(user_id, provider, user_token=user_token, display_name=display_name)
            except CredentialNotConnected:
                if not in_vault:
                    raise
        if not in_vault:
            raise CredentialNotConnected(provider, display_name=display_name)
        return await self._connect(user_id, provider, self._label(provider, display_name))

    def forget(self, user_id: str, provider: str, access_token: str | None = None) -> None:
        """The provider rejected ``access_token``: the vault refreshes it next time; the platform's copy is dropped."""
        if provider in self._vault.providers:
            self._vault.forget(user_id, provider, access_token)
            pending = _settling.get()
            if pending is not None and access_token:  # inside a tool call: settle it before the call answers
                task = asyncio.ensure_future(self._vault.settle(user_id, provider))
                _running.add(task)
                task.add_done_callback(_running.discard)
                pending.append(task)
        if self._platform is not None:
            self._platform.forget(user_id, provider)

    async def _connect(self, user_id: str, provider: str, name: str) -> Credential:
        call_id = secrets.token_urlsafe(12)
        url = await self._links.mint(base_url=self._base_url, uid=user_id, provider=provider, call_id=call_id)
        message = f"Connect your {name} account to continue: the page names the account it connects."
        ctx = _call.get()
        modern = ctx is not None and ctx.protocol_version >= INPUT_REQUIRED_VERSION
        if ctx is None or _url_elicitation(ctx, modern) is False:
            raise CredentialNotConnected(provider, display_name=name, connect_url=url)
        if modern:
            # No request can reach the client mid-call: the client follows the link and calls again.
            raise UrlElicitationRequiredError(
                [ElicitRequestURLParams(message=message, url=url, elicitation_id=call_id)],
                f"Connect your {name} account, then call the tool again.",
            )
        try:
            answer = await ctx.session.elicit_url(message, url, call_id, related_request_id=ctx.request_id)
        except MCPError:  # no back-channel, or a client that cannot elicit a URL after all
            raise CredentialNotConnected(provider, display_name=name, connect_url=url) from None
        if answer.action != "accept":
            raise CredentialNotConnected(provider, display_name=name, connect_url=url)
        found = await self._connected(user_id, provider)
        if found is None:
            raise CredentialNotConnected(provider, display_name=name, connect_url=url)
        await ctx.session.send_elicit_complete(call_id, related_request_id=ctx.request_id)
        return found

    async def _connected(self, user_id: str, provider: str) -> Credential | None:
        """The new connection, read from the vault until it appears or ``wait`` seconds pass."""
        deadline = self._clock() + self._wait
        while True:
            found = await self._vault.credential(user_id, provider)
            if found is not None or self._clock() >= deadline:
                return found
            await asyncio.sleep(self._poll)

    def _label(self, provider: str, display_name: str | None) -> str:
        client = self._vault.providers.get(provider)
        return display_name or (client.provider.label if client else provider)


def _url_elicitation(ctx: ServerRequestContext[Any, Any], modern: bool) -> bool | None:
    """Whether the client declared URL elicitation; None when it is not known: a handshake-era client
    declared its capabilities at ``initialize``, which a stateless server does not keep, so the request is
    sent and a client that cannot answer it refuses it (then the call answers with the link)."""
    capabilities = ctx.session.client_capabilities
    if capabilities is None:
        return False if modern else None
    return capabilities.elicitation is not None and capabilities.elicitation.url is not None
