"""``wrap_server``: the framework's front door. The app is a list of plain ASGI stages, outermost first:

    RequestLog    the request's record and its one log line; 500 for anything unhandled  (observe.py)
    TraceStage    the request's OpenTelemetry span, when tracing is on                   (tracing.py)
    Edge          Host 421, Origin 403, CORS, body caps, JSON depth, security headers    (edge.py)
    Router        path -> endpoint; 404                                                   (routing.py)
      <mcp path>                        McpEndpoint: credentials -> principal -> user -> serve  (endpoint.py)
      /.well-known/oauth-protected-resource[/<path>]    metadata                      (metadata.py)
      /healthz, /readyz                                 liveness, readiness           (health.py)
      /                                                 where to go (the origin is an issuer) (metadata.py)
      /oauth/…, the credential webhook, extra routes    their own ASGI apps           (services.py)

Every collaborator is built once by ``build_services`` (``services.py``); the per-user MCP
chain is ``servers.py``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_auth.config import Settings
from mcp_auth.edge import DEFAULT_BODY_BYTES, EdgeMiddleware
from mcp_auth.endpoint import McpEndpoint
from mcp_auth.health import Readiness, liveness
from mcp_auth.metadata import MetadataDocument, OriginIndex, metadata_paths
from mcp_auth.observe import RequestLog
from mcp_auth.routing import Router, get_only
from mcp_auth.services import Overrides, Services, build_services
from mcp_auth.toolsets import ToolsetFactory, load_factory
from mcp_auth.tracing import TraceStage

if TYPE_CHECKING:
    from mcp_auth.auth.base import AuthProvider
    from mcp_auth.ratelimit import RateLimiter
    from mcp_auth.servers import ServerCache, ServerFactory
    from mcp_auth.store.users import UserDirectory

logger = logging.getLogger("mcp_auth")


class McpAuthApp:
    """An ASGI application serving one multi-tenant MCP endpoint: the stages above, composed once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        mcp_path = urlsplit(settings.resource_url).path or "/"
        document = get_only(MetadataDocument(settings))
        self.router = Router(
            {
                "/": ("index", get_only(OriginIndex(settings))),
                **{path: ("extra", route) for path, route in services.routes.items()},
                **{path: ("metadata", document) for path in metadata_paths(settings)},
                "/healthz": ("healthz", get_only(liveness)),
                "/readyz": (
                    "readyz",
                    get_only(Readiness(lambda: services.users, services.secrets, settings.secret_names)),
                ),
                mcp_path: ("mcp", McpEndpoint(services)),
            },
            mcp_path=mcp_path,
        )
        body_limits = {
            path: getattr(route, "max_body_bytes", DEFAULT_BODY_BYTES) for path, route in services.routes.items()
        }
        stages: list[tuple[type, dict[str, object]]] = [
            (
                RequestLog,
                {
                    "route_of": self.router.route_name,
                    "trusted_proxies": settings.trusted_proxies,
                    "project": settings.project,
                    "active_users": services.active_users,
                    "audit": services.audit,
                },
            ),
            (EdgeMiddleware, {"settings": settings, "mcp_path": mcp_path, "body_limits": body_limits}),
        ]
        if services.tracing is not None:
            stages.insert(1, (TraceStage, {"tracing": services.tracing, "project": settings.project}))
        self.stages = tuple(cls for cls, _ in stages)
        app: ASGIApp = self.router
        for cls, options in reversed(stages):  # like Starlette's middleware stack: the first wraps the rest
            app = cls(app, **options)
        self._app = app

    # -- what tests, the command line and stdio reach --------------------------------
    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def users(self) -> UserDirectory:
        return self.services.users

    @property
    def servers(self) -> ServerCache:
        return self.services.servers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        """functions-framework entry: wrap this app as the response to ``request``."""
        return _AsgiResponse(self)


class _AsgiResponse(Response):
    """A Starlette response that hands the whole exchange to an ASGI app."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def with_derived_scopes(settings: Settings, factory: ServerFactory) -> Settings:
    """The scopes advertised (metadata, challenges, the authorization server): every scope the factory's
    toolsets use, plus any ``MCP_AUTH_SCOPES_SUPPORTED`` adds."""
    if not isinstance(factory, ToolsetFactory):
        return settings
    return replace(settings, scopes_supported=tuple(sorted(factory.scopes | set(settings.scopes_supported))))


def _warn_about_configuration(settings: Settings, factory: ServerFactory) -> None:
    from mcp_auth.checks import configuration_problems

    if isinstance(factory, ToolsetFactory):
        for problem in configuration_problems(settings, factory):
            logger.warning("configuration: %s (mcp-auth check)", problem)


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
    ``settings`` default to ``Settings.from_env()``; a bad setting raises ``ConfigError`` here, so a
    misconfigured deployment fails at start-up. ``routes`` adds endpoints (path -> ASGI app) that do
    their own authentication, such as a signed webhook; they pass the Host and Origin checks first.
    ``auth``, ``users`` and ``limiter`` replace the provider chain, the Firestore-backed user directory
    and rate limiter (for tests and benchmarks without Firestore).
    """
    settings = settings or Settings.from_env()
    if factory is None:
        factory = load_factory(settings.factory)
    overrides = Overrides(auth=auth, users=users, limiter=limiter, routes=dict(routes or {}))
    app = McpAuthApp(build_services(with_derived_scopes(settings, factory), factory, overrides))
    _warn_about_configuration(settings, factory)  # once logging is configured
    return app
