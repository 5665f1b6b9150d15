"""Build the configured provider chain from settings."""

from __future__ import annotations

from mcp_auth.auth.base import AuthProvider
from mcp_auth.auth.chain import ProviderChain
from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError


def build_provider(settings: Settings) -> AuthProvider:
    providers: list[AuthProvider] = []
    for name in settings.providers:
        if name == "jwt":
            from mcp_auth.auth.jwt import JwtProvider

            if settings.jwt_hs256_key is None:
                raise ConfigError("MCP_AUTH_JWT_HS256_KEY is required when the jwt provider is enabled.")
            providers.append(
                JwtProvider(
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    hs_keys=[settings.jwt_hs256_key.encode()],
                    hs_algorithms=("HS256",),
                )
            )
        elif name == "dev":
            from mcp_auth.auth.dev import DevProvider

            if settings.dev_user is None:
                raise ConfigError("MCP_AUTH_DEV_USER is required when the dev provider is enabled.")
            providers.append(DevProvider(settings.dev_user))
    return providers[0] if len(providers) == 1 else ProviderChain(providers)
