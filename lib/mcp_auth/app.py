"""``wrap_server``: the framework's front door, and the request path top to bottom.

    edge        Host allowlist (421), Origin allowlist (403), routing, 405/404
    metadata    GET /.well-known/oauth-protected-resource[/<path>]
    health      GET /healthz
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
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.auth.factory import build_provider, build_secret_store, require_secrets
from mcp_auth.challenge import error_response, plain_error
from mcp_auth.config import Settings
from mcp_auth.context import UserContext, effective_scopes, user_context
from mcp_auth.errors import InsufficientScope, InvalidToken, McpAuthError
from mcp_auth.metadata import metadata_paths, protected_resource_metadata
from mcp_auth.servers import ServerCache, ServerFactory
from mcp_auth.store.users import UserDirectory
from mcp_auth.tools import ScopeMap, missing_scopes
from mcp_auth.transport import serve_mcp

if TYPE_CHECKING:
    from mcp_auth.principal import Principal

logger = logging.getLogger("mcp_auth")

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


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
    ) -> None:
        self.settings = settings
        self._routes = dict(routes or {})
        if auth is None:
            secrets = build_secret_store(settings)
            if secrets is not None:
                require_secrets(secrets, settings.secret_names)
            auth = build_provider(settings, secrets)
        self.auth = auth
        self.servers = ServerCache(factory, max_size=settings.server_cache_size)
        self._users = users
        self._mcp_path = urlsplit(settings.resource_url).path or "/"
        self._metadata_paths = metadata_paths(settings)
        self._metadata = json.dumps(protected_resource_metadata(settings)).encode()
        self._allowed_hosts = _allowed_hosts(settings)
        self._allowed_origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins) | {
            _origin_of(settings.resource_url)
        }

    # -- ASGI -----------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._dispatch(scope, receive, tracking_send)
        except Exception:
            logger.exception("Unhandled error while serving %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = plain_error(500, "server_error", "An internal error occurred; it has been logged.")
                await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        """functions-framework entry: wrap this app as the response to ``request``."""
        return _AsgiResponse(self)

    # -- routing --------------------------------------------------------------
    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if scope["path"] == "/healthz":  # liveness probes come by internal address: no Host check, reveals nothing
            response = self._get_only(request, lambda: JSONResponse({"status": "ok"}))
            await response(scope, receive, send)
            return
        response = self._edge(request)
        if response is None:
            path = scope["path"]
            if path == self._mcp_path or path == self._mcp_path.rstrip("/") + "/":
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
            elif path in self._metadata_paths:
                response = self._get_only(request, lambda: Response(
                    self._metadata, media_type="application/json", headers={"Access-Control-Allow-Origin": "*"}
                ))
            else:
                response = plain_error(404, "not_found", f"No such endpoint; the MCP endpoint is {self._mcp_path}.")
        await response(scope, receive, send)

    @staticmethod
    def _get_only(request: Request, make: Callable[[], Response]) -> Response:
        if request.method in ("GET", "HEAD"):
            return make()
        return plain_error(405, "method_not_allowed", "This endpoint accepts GET only.", {"Allow": "GET, HEAD"})

    def _edge(self, request: Request) -> Response | None:
        host = (request.headers.get("host") or "").lower()
        if host not in self._allowed_hosts:
            return plain_error(
                421, "misdirected_request", "The Host header does not name this server (see MCP_AUTH_ALLOWED_HOSTS)."
            )
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/").lower() not in self._allowed_origins:
            return plain_error(403, "forbidden_origin", "This Origin is not allowed (see MCP_AUTH_ALLOWED_ORIGINS).")
        return None

    # -- the MCP request ------------------------------------------------------
    async def _serve_mcp(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            user = await self._authenticate(request)
            built = await self.servers.get(user.record)
            _check_named_tool(request, built.scopes, user.scopes)
        except McpAuthError as exc:
            response = error_response(
                exc, resource_metadata=self.settings.metadata_url, scopes=self.settings.scopes_supported
            )
            await response(scope, receive, send)
            return
        with user_context(user):
            await serve_mcp(built.server, scope, receive, send, max_body_bytes=self.settings.max_body_bytes)

    async def _authenticate(self, request: Request) -> UserContext:
        principal: Principal = await self.auth.authenticate(credentials_from(request))
        record = await self.users.load(principal.user_id)
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


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _allowed_hosts(settings: Settings) -> frozenset[str]:
    hosts = {h.lower() for h in settings.allowed_hosts} or {settings.resource_host.lower()}
    parts = urlsplit(settings.resource_url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        port = f":{parts.port}" if parts.port else ""
        hosts |= {f"{h}{port}" for h in _LOOPBACK}
    return frozenset(hosts)


class _AsgiResponse(Response):
    """A Starlette response that hands the whole exchange to an ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def wrap_server(
    factory: ServerFactory,
    *,
    settings: Settings | None = None,
    auth: AuthProvider | None = None,
    users: UserDirectory | Callable[[], UserDirectory] | None = None,
    routes: Mapping[str, ASGIApp] | None = None,
) -> McpAuthApp:
    """Build the ASGI app that authenticates each request and serves it with ``factory(user)``.

    ``settings`` default to ``Settings.from_env()``; a bad setting raises
    ``ConfigError`` here, so a misconfigured deployment fails at start-up.
    ``routes`` adds endpoints (path -> ASGI app) that do their own
    authentication, such as a signed webhook; they pass the Host and Origin checks first.
    """
    return McpAuthApp(factory, settings=settings or Settings.from_env(), auth=auth, users=users, routes=routes)
