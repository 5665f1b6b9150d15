"""Build the credential resolver and the webhook from settings (``wrap_server`` calls this)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError

if TYPE_CHECKING:
    from mcp_auth.credentials.model import Resolver
    from mcp_auth.secrets import SecretStore


@dataclass(frozen=True, slots=True)
class CredentialService:
    resolver: Resolver
    """The platform's ``CredentialResolver``, or with connected accounts the vault in front of it."""
    forward_user_token: bool = False
    routes: dict[str, ASGIApp] = field(default_factory=dict)


def build_credentials(settings: Settings, secrets: SecretStore | None) -> CredentialService | None:
    """None unless MCP_AUTH_PLATFORM_URL is set; the secrets it names must be in ``secrets``."""
    if not settings.platform_url:
        return None
    if secrets is None or not settings.platform_token_secret:
        raise ConfigError(
            "MCP_AUTH_PLATFORM_URL needs MCP_AUTH_PLATFORM_TOKEN_SECRET and a project: GOOGLE_CLOUD_PROJECT "
            "(or Google credentials that name one)."
        )
    token_name = settings.platform_token_secret
    # Imported here: the platform client's HTTP stack and the webhook are needed only by deployments that name
    # a platform.
    from mcp_auth.credentials import webhook
    from mcp_auth.credentials.platform import PlatformClient
    from mcp_auth.credentials.resolver import CredentialResolver
    from mcp_auth.store.credential_versions import CredentialVersions

    async def service_token() -> str:
        return (await secrets.get(token_name)).decode().strip()

    versions = CredentialVersions(project=settings.project, database=settings.firestore_database)
    resolver = CredentialResolver(
        platform=PlatformClient(base_url=settings.platform_url, service_token=service_token),
        versions=versions,
        ttl=settings.credential_cache_ttl,
    )
    routes: dict[str, ASGIApp] = {}
    if settings.webhook_secret:
        key_name = settings.webhook_secret

        async def keys() -> Sequence[bytes]:
            return await secrets.versions(key_name, count=2)

        routes[webhook.PATH] = webhook.CredentialWebhook(keys=keys, versions=versions, on_invalidate=resolver.forget)
    return CredentialService(resolver=resolver, forward_user_token=settings.platform_forward_user_token, routes=routes)
