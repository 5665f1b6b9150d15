"""``wrap_server``: the framework's front door, and the request path top to bottom.

    observe     one structured log line per request (``observe.py``)
    edge        Host 421, Origin 403, CORS, size/type caps, security headers (``edge.py``)
    routing     405/404
    metadata    GET /.well-known/oauth-protected-resource[/<path>]
    health      GET /healthz (liveness), GET /readyz (dependencies)
    MCP         POST <resource path>:
                  credentials  -> provider chain -> Principal     (401 + challenge)
                  user record  -> UserDirectory                    (403 unknown/disabled)
                  MCP server   -> ServerCache(factory)(record)
                  serve        -> stateless Streamable HTTP, JSON or SSE
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.auth.factory import build_provider, build_secret_store, require_secrets
from mcp_auth.backchannel import Mailbox, ReplyError, build_mailbox, client_reply
from mcp_auth.challenge import error_code, error_response, plain_error
from mcp_auth.config import Settings
from mcp_auth.context import UserContext, effective_scopes, user_context
from mcp_auth.credentials.access import credential_scope
from mcp_auth.credentials.setup import build_credentials
from mcp_auth.edge import BODY, DEFAULT_BODY_BYTES, EdgeMiddleware
from mcp_auth.errors import InsufficientScope, InvalidToken, McpAuthError
from mcp_auth.health import check_readiness
from mcp_auth.logs import configure_logging
from mcp_auth.metadata import metadata_paths, protected_resource_metadata
from mcp_auth.observe import ActiveUsers, RequestRecord, current_record, emit, trace_of
from mcp_auth.proxies import address_key, client_origin
from mcp_auth.ratelimit import (
    ALLOW,
    Decision,
    FirestoreWindows,
    Rate,
    RateLimiter,
    ToolRateLimitMiddleware,
    rate_limited_response,
)
from mcp_auth.request_state import build_request_state
from mcp_auth.servers import ServerCache, ServerFactory
from mcp_auth.store.audit import build_audit_sink
from mcp_auth.store.users import UserDirectory
from mcp_auth.tools import ScopeMap, missing_scopes
from mcp_auth.tracing import build_tracing
from mcp_auth.transport import serve_mcp

if TYPE_CHECKING:
    from mcp_auth.principal import Principal

logger = logging.getLogger("mcp_auth")



class McpAuthApp:
    """An ASGI application serving one multi-tenant MCP endpoint."""

    def __init__(
        self,
        factory: ServerFactory,
        *,
        settings: Settings,
        auth: AuthProvider | None = None,
        users: UserDirectory | Callable[[], UserDirectory] | None = None,
        routes: Mapping[str, ASGIApp] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        configure_logging(settings.log_level)
        secrets = (
            build_secret_store(settings) if auth is None or settings.platform_url or "oauth" in settings.providers
            else None
        )
        if secrets is not None:
            require_secrets(secrets, settings.secret_names)
        if auth is None:
            auth = build_provider(settings, secrets)
        self.auth = auth
        self.credentials = build_credentials(settings, secrets)  # None unless MCP_AUTH_PLATFORM_URL is set
        self._routes = {**(self.credentials.routes if self.credentials else {}), **dict(routes or {})}
        if "oauth" in settings.providers:  # the built-in authorization server's endpoints
            from mcp_auth.oauth import build_authorization_server

            self._routes = {**build_authorization_server(settings, secrets).routes, **self._routes}
        self._limiter = limiter
        self.servers = ServerCache(
            factory,
            max_size=settings.server_cache_size,
            tool_timeout=settings.tool_timeout,
            middleware=lambda: [ToolRateLimitMiddleware(_OnDemandLimiter(self), settings.rate_limits)],
            request_state=build_request_state(settings, secrets),  # MCP_AUTH_REQUEST_STATE_KEY_SECRET
        )
        self._users = users
        self._mcp_path = urlsplit(settings.resource_url).path or "/"
        self._metadata_paths = metadata_paths(settings)
        self._metadata = json.dumps(protected_resource_metadata(settings)).encode()
        self._secrets = secrets
        self._asgi = EdgeMiddleware(self._dispatch, settings=settings, mcp_path=self._mcp_path, body_limits={
            path: getattr(route, "max_body_bytes", DEFAULT_BODY_BYTES) for path, route in self._routes.items()
        })
        # Observability beyond the log line (lib/mcp_auth/store/audit.py, tracing.py): each off unless set.
        self._audit = build_audit_sink(settings)
        self._tracing = build_tracing(settings)
        self._active_users = ActiveUsers()
        self._mailbox = build_mailbox(settings)  # replies to server requests (MCP_AUTH_BACKCHANNEL)

    # -- ASGI -----------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        record = RequestRecord(
            method=scope["method"],
            path=scope["path"][:200],
            route=self._route_name(scope["path"]),
            remote_ip=_remote_ip(scope, headers, self.settings.trusted_proxies),
            user_agent=headers.get("user-agent"),
            trace=trace_of(headers, self.settings.project),
        )
        token = current_record.set(record)

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            await self._traced(scope, receive, tracking_send, record)
        except Exception:
            logger.exception("Unhandled error while serving %s %s", scope.get("method"), record.path)
            record.outcome = "error"
            if not record.status:
                response = plain_error(500, "server_error", "An internal error occurred; it has been logged.")
                await response(scope, receive, tracking_send)
        finally:
            current_record.reset(token)
            self._active_users.mark(record)
            if record.route not in ("healthz", "readyz") or record.status >= 500:
                emit(record)
            if self._audit is not None and record.auth_decision:
                self._audit.submit(record)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, record: RequestRecord) -> None:
        """The request inside its OpenTelemetry span when tracing is on (health checks are not traced)."""
        if self._tracing is None or record.route in ("healthz", "readyz"):
            await self._asgi(scope, receive, send)
            return
        route = None if record.route == "unknown" else record.path
        with self._tracing.request_span(scope, record, route=route, project=self.settings.project):
            await self._asgi(scope, receive, send)

    @property
    def paths(self) -> frozenset[str]:
        """Every path this app serves (any other is answered 404): the MCP endpoint, its metadata,
        the health routes and the extra routes (the credential webhook, the authorization server)."""
        return frozenset({self._mcp_path, *self._metadata_paths, "/healthz", "/readyz", *self._routes})

    def _route_name(self, path: str) -> str:
        if path in (self._mcp_path, self._mcp_path.rstrip("/") + "/"):
            return "mcp"
        if path in self._metadata_paths:
            return "metadata"
        if path in ("/healthz", "/readyz"):
            return path[1:]
        return "extra" if path in self._routes else "unknown"

    async def handle(self, request: Request) -> Response:
        """functions-framework entry: wrap this app as the response to ``request``."""
        return _AsgiResponse(self)

    # -- routing --------------------------------------------------------------
    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope["path"]  # the edge serves ``<mcp path>/`` as the MCP path itself
        if path == self._mcp_path:
            if request.method == "POST":
                await self._serve_mcp(request, scope, receive, send)
                return
            response = plain_error(
                405, "method_not_allowed", "This endpoint accepts POST only (stateless Streamable HTTP).",
                {"Allow": "POST"},
            )
        elif path in self._routes:
            await self._routes[path](scope, receive, send)
            return
        elif path == "/healthz":
            response = self._get_only(request, lambda: JSONResponse({"status": "ok"}))
        elif path == "/readyz":
            response = await self._readiness(request)
        elif path in self._metadata_paths:
            response = self._get_only(request, lambda: Response(
                self._metadata, media_type="application/json", headers={"Access-Control-Allow-Origin": "*"}
            ))
        else:
            response = plain_error(404, "not_found", f"No such endpoint; the MCP endpoint is {self._mcp_path}.")
        await response(scope, receive, send)

    async def _readiness(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._get_only(request, lambda: Response())
        failing = await check_readiness(self.users, self._secrets, self.settings.secret_names)
        if failing:
            logger.error("not ready: %s unavailable", ", ".join(failing), extra={"failing": failing})
            return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({"status": "ready"})

    @staticmethod
    def _get_only(request: Request, make: Callable[[], Response]) -> Response:
        if request.method in ("GET", "HEAD"):
            return make()
        return plain_error(405, "method_not_allowed", "This endpoint accepts GET only.", {"Allow": "GET, HEAD"})

    # -- the MCP request ------------------------------------------------------
    async def _serve_mcp(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        record = current_record.get()
        limits = self.settings.rate_limits
        address = address_key(record.remote_ip if record else None)  # an IPv6 client's /64
        refused = self.limiter.blocked("ip", address, limits.ip) if limits.ip else None  # local state only
        if refused is not None and not refused.allowed:
            await self._rate_limited(refused, scope, receive, send)
            return
        try:
            user = await self._authenticate(request)
            user_rate = limits.for_user("user", user.record.quotas)
            decision = await self.limiter.check("user", user.record.uid, user_rate) if user_rate else None
            if decision is not None and not decision.allowed:
                await self._rate_limited(decision, scope, receive, send)
                return
            mailbox = self._mailbox
            reply = client_reply(scope.get(BODY, b""), request.headers) if mailbox is not None else None
            if mailbox is not None and reply is not None:
                await self._accept_reply(mailbox, user, reply, scope, receive, send)
                return
            built = await self.servers.get(user.record)
            _check_named_tool(request, built.rules.tools, user.scopes)
        except McpAuthError as exc:
            if record is not None:
                denied = exc.status in (401, 403)
                record.outcome = "denied" if denied else "unavailable"
                record.auth_decision = "denied" if denied else "error"
                record.auth_reason = error_code(exc)
            if exc.status == 401 and limits.ip:  # failed attempts spend the client address's allowance
                decision = await self.limiter.check("ip", address, limits.ip)
                if not decision.allowed:
                    await self._rate_limited(decision, scope, receive, send)
                    return
            response = error_response(
                exc, resource_metadata=self.settings.metadata_url, scopes=self.settings.scopes_supported
            )
            await response(scope, receive, send)
            return
        resolver = self.credentials.resolver if self.credentials else None
        forward = bool(self.credentials and self.credentials.forward_user_token)
        with user_context(user), credential_scope(resolver, request, forward_user_token=forward):
            await serve_mcp(
                built.server, scope, receive, send,
                max_body_bytes=self.settings.max_body_bytes, keepalive_seconds=self.settings.sse_keepalive,
                mailbox=self._mailbox, uid=user.user_id,
            )

    async def _accept_reply(
        self, mailbox: Mailbox, user: UserContext, reply: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """A handshake-era client's answer to a server request: to the waiting request, wherever it is."""
        record = current_record.get()
        if record is not None:
            record.mcp_method = "reply"
        try:
            await mailbox.deliver(user.user_id, reply)
        except McpAuthError as exc:
            if record is not None:
                record.outcome = "rejected" if isinstance(exc, ReplyError) else "unavailable"
            response = error_response(
                exc, resource_metadata=self.settings.metadata_url, scopes=self.settings.scopes_supported
            )
        else:
            response = Response(status_code=202)
        await response(scope, receive, send)

    async def _rate_limited(self, decision: Decision, scope: Scope, receive: Receive, send: Send) -> None:
        record = current_record.get()
        if record is not None:
            record.outcome = "rate_limited"
        await rate_limited_response(decision)(scope, receive, send)

    @property
    def limiter(self) -> RateLimiter:
        """Built on first use; its Firestore client on its first shared-window write, on the serving loop."""
        if self._limiter is None:
            from mcp_auth.store.firestore import firestore_client

            settings = self.settings
            windows = FirestoreWindows(
                lambda: firestore_client(project=settings.project, database=settings.firestore_database)
            )
            self._limiter = RateLimiter(windows, lease=settings.rate_limits.lease)
        return self._limiter

    async def _authenticate(self, request: Request) -> UserContext:
        log = current_record.get()
        principal: Principal = await self.auth.authenticate(credentials_from(request))
        if log is not None:
            log.user, log.auth_method = principal.user_id, principal.auth_method
        record = await self.users.load(principal.user_id)
        if log is not None:
            log.auth_decision = "allowed"
        return UserContext(principal=principal, record=record, scopes=effective_scopes(principal, record))

    @property
    def users(self) -> UserDirectory:
        if self._users is None or not isinstance(self._users, UserDirectory):
            self._users = self._users() if callable(self._users) else _default_directory(self.settings)
        return self._users


def _check_named_tool(request: Request, scope_map: ScopeMap, granted: frozenset[str]) -> None:
    """2026-07-28 requests name the tool in headers: refuse a forbidden call before dispatch (403)."""
    if request.headers.get("mcp-method") != "tools/call":
        return
    name = request.headers.get("mcp-name")
    if name is None:
        return
    missing = missing_scopes(scope_map, name, granted)
    if missing:
        raise InsufficientScope(sorted(missing), f"The tool {name!r} needs scope(s): {' '.join(sorted(missing))}.")


def credentials_from(request: Request) -> Credentials:
    """Split the credential out of the headers; exactly one of each header kind is accepted."""
    authorizations = request.headers.getlist("authorization")
    api_keys = request.headers.getlist("x-api-key")
    if len(authorizations) > 1 or len(api_keys) > 1:
        raise InvalidToken("Send exactly one Authorization (or X-API-Key) header.")
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


def _remote_ip(scope: Scope, headers: Headers, trusted: tuple[str, ...] = ()) -> str | None:
    """The client address, from the forwarded entries Google's front ends wrote (mcp_auth.proxies)."""
    return client_origin(scope, headers, trusted).ip


def _default_directory(settings: Settings) -> UserDirectory:
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.users import UserRepository

    client = firestore_client(project=settings.project, database=settings.firestore_database)
    return UserDirectory(
        UserRepository(client),
        first_login="create" if settings.first_login == "create" else "reject",
        default_scopes=settings.default_scopes,
        default_toolsets=settings.default_toolsets,
        cache_ttl=settings.user_cache_ttl,
    )


class _OnDemandLimiter:
    """Reaches the app's limiter only when a limit applies, so unlimited deployments never touch Firestore."""

    def __init__(self, app: McpAuthApp) -> None:
        self._app = app

    async def check(self, kind: str, key: str, rate: Rate | None, cost: int = 1) -> Decision:
        if rate is None:
            return ALLOW
        return await self._app.limiter.check(kind, key, rate, cost)


class _AsgiResponse(Response):
    """A Starlette response that hands the whole exchange to an ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _warn_about_configuration(settings: Settings, factory: ServerFactory) -> None:
    from mcp_auth.checks import configuration_problems
    from mcp_auth.toolsets import ToolsetFactory

    if isinstance(factory, ToolsetFactory):
        for problem in configuration_problems(settings, factory):
            logger.warning("configuration: %s (mcp-auth check)", problem)


def with_derived_scopes(settings: Settings, factory: ServerFactory) -> Settings:
    """The scopes advertised (metadata, challenges, the authorization server): every scope the factory's
    toolsets use, plus any ``MCP_AUTH_SCOPES_SUPPORTED`` adds."""
    from dataclasses import replace

    from mcp_auth.toolsets import ToolsetFactory

    if not isinstance(factory, ToolsetFactory):
        return settings
    return replace(settings, scopes_supported=tuple(sorted(factory.scopes | set(settings.scopes_supported))))


def wrap_server(
    factory: ServerFactory | None = None,
    *,
    settings: Settings | None = None,
    auth: AuthProvider | None = None,
    users: UserDirectory | Callable[[], UserDirectory] | None = None,
    routes: Mapping[str, ASGIApp] | None = None,
    limiter: RateLimiter | None = None,
) -> McpAuthApp:
    """Build the ASGI app that authenticates each request and serves each user the toolsets ``factory`` selects.

    ``factory`` defaults to the ``ToolsetFactory`` named by ``MCP_AUTH_FACTORY`` (``factory:FACTORY``).

    ``settings`` default to ``Settings.from_env()``; a bad setting raises
    ``ConfigError`` here, so a misconfigured deployment fails at start-up.
    ``routes`` adds endpoints (path -> ASGI app) that do their own
    authentication, such as a signed webhook; they pass the Host and Origin checks first.
    ``users`` and ``limiter`` replace the Firestore-backed user directory and rate limiter
    (for tests and benchmarks without Firestore).
    """
    settings = settings or Settings.from_env()
    if factory is None:
        from mcp_auth.toolsets import load_factory

        factory = load_factory(settings.factory)
    app = McpAuthApp(factory, settings=with_derived_scopes(settings, factory), auth=auth, users=users,
                     routes=routes, limiter=limiter)
    _warn_about_configuration(settings, factory)  # once logging is configured
    return app
