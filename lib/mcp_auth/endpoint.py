"""The MCP endpoint: the last stage of the pipeline, for ``POST <resource path>``.

    method         anything but POST -> 405 (stateless: no GET stream, no DELETE)
    address gate   an address whose failed-authentication window is used up -> 429 (local state only)
    credentials    parsed once from the headers                               (401 + challenge)
    principal      the provider chain's verdict
    user record    the directory: unknown or disabled -> 403; a credential issued before the user's
                   last sign-out -> 401 (the directory's cache follows the revocation watch)
    layout         a database migrated by a newer framework -> 503 (read once per instance, while
                   the caller is authenticated)
    user gate      the user's request limit -> 429
    reply          a handshake-era client's answer to a server request -> the waiting request (202)
    tool scopes    a tools/call the caller's scopes do not allow, on any protocol generation -> 403 + challenge
    serve          the user's server (``servers.py``) inside the request context: JSON or SSE

A failed authentication spends the client address's allowance; the address of an IPv6
client is its /64 (``proxies.address_key``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from mcp_auth import heap
from mcp_auth.auth.base import Credentials
from mcp_auth.backchannel import ReplyError, client_reply
from mcp_auth.challenge import error_code, error_response, plain_error
from mcp_auth.context import RequestContext, UserContext, effective_scopes, request_context
from mcp_auth.edge import BODY
from mcp_auth.errors import InsufficientScope, InvalidToken, McpAuthError, SignedOut
from mcp_auth.observe import RequestRecord, record_of
from mcp_auth.proxies import address_key
from mcp_auth.ratelimit import Decision, rate_limited_response
from mcp_auth.services import Services
from mcp_auth.tools import ScopeMap, forbidden_calls, missing_scopes
from mcp_auth.transport import serve_mcp

logger = logging.getLogger("mcp_auth")


class McpEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self._limits = settings.rate_limits
        self._challenge: dict[str, Any] = {
            "resource_metadata": settings.metadata_url,
            "scopes": settings.scopes_supported,
        }
        self._forward_token = bool(services.credentials and services.credentials.forward_user_token)
        self._resolver = services.credentials.resolver if services.credentials else None
        self._revocations = services.revocations
        self._cold = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._cold:  # the first request: what start-up imported stays out of the collector's scans
            self._cold = False
            heap.settle(heap.START)
        if scope["method"] != "POST":
            response = plain_error(
                405,
                "method_not_allowed",
                "This endpoint accepts POST only (stateless Streamable HTTP).",
                {"Allow": "POST"},
            )
            await response(scope, receive, send)
            return
        record = record_of(scope)
        address = address_key(record.remote_ip if record else None)
        limiter, limits = self.services.limiter, self._limits
        refused = limiter.blocked("ip", address, limits.ip) if limits.ip else None  # local state only
        if refused is not None and not refused.allowed:
            await _rate_limited(refused, record, scope, receive, send)
            return
        if self._revocations is not None:
            self._revocations.start()  # at once after the first request: the listener runs on its own thread
        headers = Headers(scope=scope)
        layout = self.services.layout
        # Until it has settled (once per instance, not per request) the layout is read while the
        # caller is authenticated, not before: a cold instance's first request waits for one round trip.
        layout_check = _started(layout.check()) if layout is not None and not layout.ok else None
        try:
            credentials = credentials_from(headers)
            user = await self._authenticate(credentials, record)
            if layout_check is not None:
                await layout_check
            user_rate = limits.for_user("user", user.record.quotas)
            decision = await limiter.check("user", user.record.uid, user_rate) if user_rate else None
            if decision is not None and not decision.allowed:
                await _rate_limited(decision, record, scope, receive, send)
                return
            mailbox = self.services.mailbox
            reply = client_reply(scope.get(BODY, b""), headers) if mailbox is not None else None
            if reply is not None:
                await self._accept_reply(user, reply, record, scope, receive, send)
                return
            built = await self.services.servers.get(user.record)
            if not built.tool_scopes <= user.scopes:  # else no call of this user's can be forbidden
                _refuse_forbidden_calls(headers, scope.get(BODY, b""), built.rules.tools, user.scopes, record)
        except McpAuthError as exc:
            if record is not None:
                denied = exc.status in (401, 403)
                record.outcome = "denied" if denied else "unavailable"
                record.auth_decision = "denied" if denied else "error"
                record.auth_reason = error_code(exc)
            if exc.status == 401 and limits.ip:  # failed attempts spend the client address's allowance
                decision = await limiter.check("ip", address, limits.ip)
                if not decision.allowed:
                    await _rate_limited(decision, record, scope, receive, send)
                    return
            await error_response(exc, **self._challenge)(scope, receive, send)
            return
        context = RequestContext(
            user=user,
            stores=self.services.stores,
            record=record,
            resolver=self._resolver,
            user_token=credentials.bearer if self._forward_token else None,
        )
        settings = self.services.settings
        with request_context(context):
            await serve_mcp(
                built.server,
                scope,
                receive,
                send,
                max_body_bytes=settings.max_body_bytes,
                keepalive_seconds=settings.sse_keepalive,
                mailbox=self.services.mailbox,
                uid=user.user_id,
            )

    async def _authenticate(self, credentials: Credentials, record: RequestRecord | None) -> UserContext:
        principal = await self.services.auth.authenticate(credentials)
        if record is not None:
            record.user, record.auth_method = principal.user_id, principal.auth_method
        user_record = await self.services.users.load(principal.user_id)
        if user_record.issued_before_sign_out(principal.issued_at):
            raise SignedOut()
        if record is not None:
            record.auth_decision = "allowed"
        return UserContext(principal=principal, record=user_record, scopes=effective_scopes(principal, user_record))

    async def _accept_reply(
        self,
        user: UserContext,
        reply: dict[str, Any],
        record: RequestRecord | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """A handshake-era client's answer to a server request: to the waiting request, wherever it is."""
        from starlette.responses import Response

        if record is not None:
            record.mcp_method = "reply"
        try:
            await self.services.mailbox.deliver(user.user_id, reply)  # type: ignore[union-attr]
        except McpAuthError as exc:
            if record is not None:
                record.outcome = "rejected" if isinstance(exc, ReplyError) else "unavailable"
            response = error_response(exc, **self._challenge)
        else:
            response = Response(status_code=202)
        await response(scope, receive, send)


async def _rate_limited(
    decision: Decision, record: RequestRecord | None, scope: Scope, receive: Receive, send: Send
) -> None:
    if record is not None:
        record.outcome = "rate_limited"
    await rate_limited_response(decision)(scope, receive, send)


def _refuse_forbidden_calls(
    headers: Headers, body: bytes, scope_map: ScopeMap, granted: frozenset[str], record: RequestRecord | None
) -> None:
    """A ``tools/call`` of a tool the caller's scopes do not allow, on any protocol generation, is refused
    before dispatch (403 and a challenge naming what is missing, so the client can step up): named in the
    body (``tools.forbidden_calls``: requests, batches, notifications) or in a 2026-07-28 request's headers."""
    refused = forbidden_calls(body, scope_map, granted)
    named = headers.get("mcp-name") if headers.get("mcp-method") == "tools/call" else None
    if named is not None and (missing := missing_scopes(scope_map, named, granted)):
        refused[named] = missing
    if not refused:
        return
    names = sorted(refused)
    needed = " ".join(sorted(frozenset().union(*refused.values())))
    if record is not None:
        record.mcp_method, record.tool = "tools/call", names[0]
    what = f"The tool {names[0]!r} needs" if len(names) == 1 else f"The tools {', '.join(map(repr, names))} need"
    raise InsufficientScope(needed.split(), f"{what} scope(s): {needed}.")


def credentials_from(headers: Headers) -> Credentials:
    """The one credential of the request: one Authorization (Bearer) header or one X-API-Key header."""
    authorizations = headers.getlist("authorization")
    api_keys = headers.getlist("x-api-key")
    if len(authorizations) > 1 or len(api_keys) > 1:
        raise InvalidToken("Send exactly one Authorization (or X-API-Key) header.")
    if authorizations and api_keys:  # two credentials: which one decides would depend on the provider order
        raise InvalidToken("Send either an Authorization header or an X-API-Key header, not both.")
    bearer: str | None = None
    if authorizations:
        scheme, _, token = authorizations[0].strip().partition(" ")
        if scheme.lower() != "bearer":
            raise InvalidToken("Use the Bearer scheme: 'Authorization: Bearer <token>'.")
        bearer = token.strip()
        if not bearer:
            raise InvalidToken("The Authorization header has no token after 'Bearer'.")
    api_key = api_keys[0].strip() if api_keys else None
    return Credentials(bearer=bearer, api_key=api_key or None)


def _started(check: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """``check`` running beside the request; its outcome is read even when the request fails first."""
    task = asyncio.ensure_future(check)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task
