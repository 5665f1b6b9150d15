"""The composition root: every collaborator of the request path is built here, once, from ``Settings``.

    build_services(settings, factory, overrides) -> Services

One secret store for every secret; one authorization server object that supplies both
the ``oauth`` provider's verifier and its routes; one rate limiter, handed to the
per-user chain (``servers.py``); one way to reach Firestore (``firestore_client`` per
event loop, with the project and database from ``Settings``). Nothing else in the
framework builds these; ``Overrides`` replaces the ones tests and benchmarks stand in for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from mcp_auth.auth.base import AuthProvider
from mcp_auth.auth.chain import follow_revocations
from mcp_auth.auth.factory import build_provider, build_secret_store, require_secrets
from mcp_auth.backchannel import Mailbox, build_mailbox
from mcp_auth.config import Settings
from mcp_auth.connections.setup import ConnectionService, build_connections, connecting_credentials
from mcp_auth.credentials.setup import CredentialService, build_credentials
from mcp_auth.logs import configure_logging
from mcp_auth.observe import ActiveUsers
from mcp_auth.ratelimit import FirestoreWindows, RateLimiter
from mcp_auth.request_state import build_request_state
from mcp_auth.servers import ServerCache, ServerFactory, sdk_spans_wanted
from mcp_auth.store.audit import FirestoreAuditSink, build_audit_sink
from mcp_auth.store.handle import UserStore, user_stores
from mcp_auth.store.layout import LayoutGate
from mcp_auth.store.revocations import RevocationWatch
from mcp_auth.store.users import UserDirectory
from mcp_auth.tracing import Tracing, build_tracing

if TYPE_CHECKING:
    from mcp_auth.oauth import AuthorizationServer
    from mcp_auth.secrets import SecretStore
    from mcp_auth.store.firestore import ClientFactory


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """Collaborators to use instead of the ones the settings would build (tests, benchmarks)."""

    auth: AuthProvider | None = None
    users: UserDirectory | Callable[[], UserDirectory] | None = None
    limiter: RateLimiter | None = None
    routes: Mapping[str, ASGIApp] = field(default_factory=dict)
    """Extra endpoints (path -> ASGI app) that do their own authentication, such as a signed webhook."""


@dataclass(kw_only=True)
class Services:
    """What the request path uses, built once per process."""

    settings: Settings
    auth: AuthProvider
    secrets: SecretStore | None
    servers: ServerCache
    limiter: RateLimiter
    stores: Callable[[str], UserStore]
    credentials: CredentialService | None
    oauth: AuthorizationServer | None
    mailbox: Mailbox | None
    audit: FirestoreAuditSink | None
    tracing: Tracing | None
    active_users: ActiveUsers
    routes: Mapping[str, ASGIApp]
    layout: LayoutGate | None = None
    """The database layout against this code's, checked once per instance (None without Firestore users)."""
    revocations: RevocationWatch | None = None
    """The instance's listener on record changes; the user and verification caches follow it
    (``store/revocations.py``; None without Firestore users)."""
    connections: ConnectionService | None = None
    """Connected accounts: the token vault, connect links and the connect pages (None without MCP_AUTH_CONNECTIONS)."""
    _users: UserDirectory | Callable[[], UserDirectory] | None = None

    @property
    def users(self) -> UserDirectory:
        """The user directory, built on first use (its Firestore client belongs to the serving loop)."""
        if not isinstance(self._users, UserDirectory):
            self._users = self._users() if callable(self._users) else _directory(self.settings)
            if self.revocations is not None:
                self._users.follow(self.revocations)
        return self._users


def build_services(settings: Settings, factory: ServerFactory, overrides: Overrides | None = None) -> Services:
    """Every collaborator, from ``settings``; a missing required secret stops the start here, by name."""
    overrides = overrides or Overrides()
    configure_logging(settings.log_level)
    needs_secrets = (
        overrides.auth is None or settings.platform_url or "oauth" in settings.providers or settings.connections
    )
    secrets = build_secret_store(settings) if needs_secrets else None
    if secrets is not None:
        require_secrets(secrets, settings.secret_names)
    oauth = None
    if "oauth" in settings.providers:
        from mcp_auth.oauth import build_authorization_server

        oauth = build_authorization_server(settings, secrets)
    limits = settings.rate_limits
    limiter = overrides.limiter or RateLimiter(
        FirestoreWindows(_client(settings)), lease=limits.lease, credit=limits.credit
    )
    credentials = build_credentials(settings, secrets)  # None unless MCP_AUTH_PLATFORM_URL is set
    # None unless MCP_AUTH_CONNECTIONS is set; its pages count per address in the endpoint's own limiter
    connections = build_connections(settings, secrets, limiter=limiter)
    if connections is not None:  # the vault first, then the platform; neither: send the user to connect
        credentials = connecting_credentials(settings, credentials, connections)
    servers = ServerCache(
        factory,
        max_size=settings.server_cache_size,
        tool_timeout=settings.tool_timeout,
        limiter=limiter,
        limits=limits,
        request_state=build_request_state(settings, secrets),  # MCP_AUTH_REQUEST_STATE_KEY_SECRET
        call_context=connections is not None,
        sdk_spans=sdk_spans_wanted(settings.otel_exporter),  # the SDK's span per MCP message (servers.py)
    )
    routes = {
        **(oauth.routes if oauth else {}),
        **(credentials.routes if credentials else {}),
        **(connections.routes if connections else {}),
        **overrides.routes,
    }
    auth = overrides.auth or build_provider(settings, secrets, oauth=oauth)
    revocations = None
    if overrides.users is None:  # the records are Firestore's: follow their changes
        revocations = RevocationWatch(project=settings.project, database=settings.firestore_database)
        follow_revocations([auth], revocations)
    return Services(
        settings=settings,
        auth=auth,
        secrets=secrets,
        servers=servers,
        limiter=limiter,
        stores=user_stores(project=settings.project, database=settings.firestore_database),
        credentials=credentials,
        oauth=oauth,
        mailbox=build_mailbox(settings),  # replies to server requests (MCP_AUTH_BACKCHANNEL)
        audit=build_audit_sink(settings),  # each off unless set (store/audit.py, tracing.py)
        tracing=build_tracing(settings),
        active_users=ActiveUsers(),
        routes=routes,
        layout=LayoutGate(_client(settings)) if overrides.users is None else None,
        revocations=revocations,
        connections=connections,
        _users=overrides.users,
    )


def _client(settings: Settings) -> ClientFactory:
    """The deployment's Firestore client of the running event loop, made on first use."""
    from mcp_auth.store.firestore import firestore_client

    return functools.partial(firestore_client, project=settings.project, database=settings.firestore_database)


def _directory(settings: Settings) -> UserDirectory:
    from mcp_auth.store.users import UserRepository

    return UserDirectory(
        UserRepository(_client(settings)),
        first_login="create" if settings.first_login == "create" else "reject",
        default_scopes=settings.default_scopes,
        default_toolsets=settings.default_toolsets,
        cache_ttl=settings.user_cache_ttl,
    )
