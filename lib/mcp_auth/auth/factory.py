"""Build the configured provider chain from settings.

Every provider that verifies something remote or expensive is wrapped in the
verification cache. Secrets (HS keys, the introspection client secret, the
API-key pepper) come from Secret Manager through one ``SecretStore``; the
development-only raw settings stand in for them locally.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from mcp_auth.auth.base import AuthProvider
from mcp_auth.auth.chain import ProviderChain
from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError

if TYPE_CHECKING:  # the Secret Manager client costs ~0.5 s to import: only when a secret is configured
    from mcp_auth.oauth import AuthorizationServer
    from mcp_auth.secrets import SecretStore


def build_secret_store(settings: Settings) -> SecretStore | None:
    if not settings.secret_names:
        return None
    if not settings.project:
        raise ConfigError(
            "Reading secrets from Secret Manager needs a project: set GOOGLE_CLOUD_PROJECT "
            "(or run with Google credentials that name one)."
        )
    from mcp_auth.secrets import SecretStore

    return SecretStore(
        project=settings.project,
        endpoint=settings.secret_manager_endpoint,
        refresh_interval=settings.secret_refresh_seconds,
    )


def require_secrets(store: SecretStore, names: Sequence[str]) -> None:
    """Fail the start, naming each missing secret, before any request is served.

    Runs in a thread with its own event loop, so it works whether or not the
    caller is inside one; the values it reads stay cached for the first requests.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, store.require(list(names))).result()


def build_provider(
    settings: Settings, secrets: SecretStore | None = None, *, oauth: AuthorizationServer | None = None
) -> AuthProvider:
    """The chain ``MCP_AUTH_PROVIDERS`` names; the ``oauth`` provider is the built-in authorization server's
    own verifier (its signing keys), so that server is built once, by the composition root."""
    from mcp_auth.auth.cache import CachedProvider

    if secrets is None:
        secrets = build_secret_store(settings)
    providers: list[AuthProvider] = []
    for name in settings.providers:
        if name == "jwt":
            providers.append(CachedProvider(_jwt(settings, secrets), ttl=settings.auth_cache_ttl))
        elif name == "introspection":
            providers.append(CachedProvider(_introspection(settings, secrets), ttl=settings.auth_cache_ttl))
        elif name == "api_key":
            providers.append(CachedProvider(_api_keys(settings, secrets), ttl=min(settings.auth_cache_ttl, 60)))
        elif name == "oauth":
            if oauth is None:
                raise ConfigError("The oauth provider needs the built-in authorization server (build_services).")
            providers.append(CachedProvider(oauth.verifier(leeway=settings.jwt_leeway), ttl=settings.auth_cache_ttl))
        elif name == "dev":
            from mcp_auth.auth.dev import DevProvider

            if settings.dev_user is None:
                raise ConfigError("MCP_AUTH_DEV_USER is required when the dev provider is enabled.")
            providers.append(DevProvider(settings.dev_user))
    return providers[0] if len(providers) == 1 else ProviderChain(providers)


def _secret_versions(secrets: SecretStore | None, name: str) -> Callable[[], Awaitable[Sequence[bytes]]]:
    if secrets is None:
        raise ConfigError(f"Secret {name!r} is configured but no Secret Manager project is set.")

    async def current_and_previous() -> Sequence[bytes]:
        return await secrets.versions(name, count=2)

    return current_and_previous


def _jwt(settings: Settings, secrets: SecretStore | None) -> AuthProvider:
    from mcp_auth.auth.jwks import JwksCache
    from mcp_auth.auth.jwt import JwtProvider

    jwks = (
        JwksCache(settings.jwt_jwks_url, refresh_cooldown=settings.jwt_jwks_refresh_cooldown)
        if settings.jwt_jwks_url
        else None
    )
    return JwtProvider(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        hs_keys=[settings.jwt_hs256_key.encode()] if settings.jwt_hs256_key else None,
        hs_key_source=_secret_versions(secrets, settings.jwt_hs_secret) if settings.jwt_hs_secret else None,
        hs_algorithms=("HS256",),
        jwks=jwks,
        leeway=settings.jwt_leeway,
        user_id_claim=settings.jwt_user_claim,
    )


def _introspection(settings: Settings, secrets: SecretStore | None) -> AuthProvider:
    from mcp_auth.auth.introspection import IntrospectionProvider

    if secrets is None or not settings.introspection_secret:
        raise ConfigError("The introspection provider needs MCP_AUTH_INTROSPECTION_SECRET.")
    if not settings.introspection_url or not settings.introspection_client_id:  # Settings refuses this already
        raise ConfigError("The introspection provider needs MCP_AUTH_INTROSPECTION_URL and _CLIENT_ID.")
    return IntrospectionProvider(
        endpoint=settings.introspection_url,
        client_id=settings.introspection_client_id,
        client_secret=_LazySecret(secrets, settings.introspection_secret),
        audience=settings.jwt_audience,
        user_id_claim=settings.jwt_user_claim,
    )


def _api_keys(settings: Settings, secrets: SecretStore | None) -> AuthProvider:
    from mcp_auth.auth.api_keys import ApiKeyProvider

    if settings.api_key_pepper:
        peppers = _static([settings.api_key_pepper.encode()])
    else:
        peppers = _secret_versions(secrets, settings.api_key_pepper_secret or "")
    return ApiKeyProvider(settings=settings, peppers=peppers)


def _static(values: Sequence[bytes]) -> Callable[[], Awaitable[Sequence[bytes]]]:
    async def source() -> Sequence[bytes]:
        return values

    return source


class _LazySecret:
    """A secret read from the store when first needed (the store caches and refreshes it)."""

    def __init__(self, store: SecretStore, name: str) -> None:
        self._store, self._name = store, name

    async def get(self) -> str:
        return (await self._store.get(self._name)).decode()

    def __repr__(self) -> str:
        return f"<secret {self._name}>"
