"""Development-only provider: every request is the configured user.

It refuses to exist on Cloud Run (``K_SERVICE`` set), whatever the settings say.
"""

from __future__ import annotations

import os

from mcp_auth.auth.base import Credentials
from mcp_auth.errors import ConfigError
from mcp_auth.principal import Principal


class DevProvider:
    name = "dev"

    def __init__(self, user_id: str) -> None:
        if os.environ.get("K_SERVICE"):
            raise ConfigError(
                "The dev provider is for local development only and refuses to start on Cloud Run (K_SERVICE is set)."
            )
        if not user_id:
            raise ConfigError("The dev provider needs a user id (MCP_AUTH_DEV_USER).")
        self._principal = Principal(user_id=user_id, auth_method="dev")

    def accepts(self, credentials: Credentials) -> bool:
        return True

    async def authenticate(self, credentials: Credentials) -> Principal:
        return self._principal
