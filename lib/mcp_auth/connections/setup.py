"""Build the token vault (and, with it, the connect pages) from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError

if TYPE_CHECKING:
    from mcp_auth.connections.vault import TokenVault
    from mcp_auth.secrets import SecretStore


def build_vault(settings: Settings, secrets: SecretStore | None) -> TokenVault | None:
    """None unless MCP_AUTH_CONNECTIONS names providers; their secrets must be in ``secrets``."""
    if not settings.connections:
        return None
    key_name = settings.connections_key_secret
    if secrets is None or not key_name:
        raise ConfigError("MCP_AUTH_CONNECTIONS needs MCP_AUTH_CONNECTIONS_KEY_SECRET and a project.")
    import functools

    from mcp_auth.connections.oauth2 import ProviderClient
    from mcp_auth.connections.sealing import Sealer
    from mcp_auth.connections.vault import TokenVault
    from mcp_auth.store.firestore import firestore_client

    async def keys() -> list[bytes]:
        return await secrets.versions(key_name, count=2)

    def client_secret(name: str):  # type: ignore[no-untyped-def]
        async def read() -> str:
            return (await secrets.get(name)).decode().strip()

        return read

    return TokenVault(
        providers={
            p.name: ProviderClient(p, client_secret=client_secret(p.client_secret)) for p in settings.connections
        },
        sealer=Sealer(keys, secret_name=key_name),
        db=functools.partial(firestore_client, project=settings.project, database=settings.firestore_database),
    )
