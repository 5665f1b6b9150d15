"""Build the token vault, the connect links and the connect pages from settings."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.types import ASGIApp

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError

if TYPE_CHECKING:
    from mcp_auth.connections.links import ConnectLinks
    from mcp_auth.connections.sealing import Sealer
    from mcp_auth.connections.vault import TokenVault
    from mcp_auth.credentials.setup import CredentialService
    from mcp_auth.ratelimit import RateLimiter
    from mcp_auth.secrets import SecretStore
    from mcp_auth.store.firestore import ClientFactory


LIMITED_KEYS = 10_000
"""Addresses the connect pages' limiter remembers per instance (least recently used dropped first). A dropped
address loses only this instance's unspent lease: its window in Firestore still counts every request."""


@dataclass(frozen=True, slots=True)
class ConnectionService:
    """What connected accounts add to the function: the vault, the links that send users to connect, their pages."""

    vault: TokenVault
    links: ConnectLinks
    routes: dict[str, ASGIApp] = field(default_factory=dict)


def build_connections(
    settings: Settings, secrets: SecretStore | None, *, limiter: RateLimiter | None = None
) -> ConnectionService | None:
    """None unless MCP_AUTH_CONNECTIONS names providers; the secrets they name must be in ``secrets``.
    ``limiter`` counts the connect pages' requests per client address under MCP_AUTH_RATE_LIMIT_IP (default:
    a limiter on the deployment's Firestore windows, which the MCP endpoint's address limit counts in too)."""
    sealer = _sealer(settings, secrets)
    if sealer is None or secrets is None:
        return None
    from mcp_auth.connections.links import ConnectLinks
    from mcp_auth.connections.routes import ConnectRoutes

    link_key = settings.connect_link_key_secret
    if not link_key:
        raise ConfigError("MCP_AUTH_CONNECTIONS needs MCP_AUTH_CONNECT_LINK_KEY_SECRET (the connect links' key).")

    async def link_keys() -> list[bytes]:
        return await secrets.versions(link_key, count=2)

    vault = _vault(settings, secrets, sealer)
    links = ConnectLinks(keys=link_keys, db=_db(settings))
    if limiter is None and settings.rate_limits.ip is not None:
        from mcp_auth.ratelimit import FirestoreWindows, RateLimiter

        limiter = RateLimiter(FirestoreWindows(_db(settings)), lease=settings.rate_limits.lease, max_keys=LIMITED_KEYS)
    pages = ConnectRoutes(
        vault=vault,
        links=links,
        sealer=sealer,
        base_url=_base_url(settings),
        resource=settings.resource_url,
        limiter=limiter,
        rate=settings.rate_limits.ip,
    )
    return ConnectionService(vault=vault, links=links, routes=pages.routes)


def build_vault(settings: Settings, secrets: SecretStore | None) -> TokenVault | None:
    """None unless MCP_AUTH_CONNECTIONS names providers; their secrets must be in ``secrets``."""
    sealer = _sealer(settings, secrets)
    return _vault(settings, secrets, sealer) if sealer is not None and secrets is not None else None


def _sealer(settings: Settings, secrets: SecretStore | None) -> Sealer | None:
    if not settings.connections:
        return None
    key_name = settings.connections_key_secret
    if secrets is None or not key_name:
        raise ConfigError("MCP_AUTH_CONNECTIONS needs MCP_AUTH_CONNECTIONS_KEY_SECRET and a project.")
    from mcp_auth.connections.sealing import Sealer

    async def keys() -> list[bytes]:
        return await secrets.versions(key_name, count=2)

    return Sealer(keys, secret_name=key_name)


def _vault(settings: Settings, secrets: SecretStore, sealer: Sealer) -> TokenVault:
    from mcp_auth.connections.oauth2 import ProviderClient
    from mcp_auth.connections.vault import TokenVault

    def client_secret(name: str):  # type: ignore[no-untyped-def]
        async def read() -> str:
            return (await secrets.get(name)).decode().strip()

        return read

    return TokenVault(
        providers={
            p.name: ProviderClient(p, client_secret=client_secret(p.client_secret)) for p in settings.connections
        },
        sealer=sealer,
        db=_db(settings),
    )


def _base_url(settings: Settings) -> str:
    parts = urlsplit(settings.resource_url)
    return f"{parts.scheme}://{parts.netloc}"


def _db(settings: Settings) -> ClientFactory:
    from mcp_auth.store.firestore import firestore_client

    return functools.partial(firestore_client, project=settings.project, database=settings.firestore_database)


def connecting_credentials(
    settings: Settings, platform: CredentialService | None, connections: ConnectionService
) -> CredentialService:
    """The credential service whose resolver asks the vault first, then the platform (when there is one),
    and sends the user to connect when neither has a credential."""
    from mcp_auth.connections.connect import ConnectingResolver
    from mcp_auth.credentials.setup import CredentialService

    resolver = ConnectingResolver(
        vault=connections.vault,
        links=connections.links,
        base_url=_base_url(settings),
        platform=platform.resolver if platform is not None else None,
        wait=max(1.0, settings.tool_timeout - 5.0),
    )
    if platform is None:
        return CredentialService(resolver=resolver)
    return CredentialService(resolver=resolver, forward_user_token=platform.forward_user_token, routes=platform.routes)
