"""The app in this process, for fast tests of the request path: ``wrap_server`` behind httpx's ASGI transport.

LOCAL                    the public base URL a local app serves (its resource is LOCAL + "/mcp")
local_settings(**env)    Settings for a local app: the jwt provider with a key made for this test run,
                         nothing read from the environment; ``env`` adds or replaces settings
local_token(user, ...)   a token those settings accept: local_token(uid, scopes="mcp:tools", audience=...)
local_client(app, base)  an httpx.AsyncClient that calls ``app`` in process
local_app                factory fixture: local_app(factory, **env) -> the app, on the Firestore emulator
                         (users from ``make_user``, rate limits off unless ``env`` sets them); any secret
                         store it opened is closed after the test
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest

from mcp_auth import Settings, wrap_server
from mcp_auth.app import McpAuthApp
from tests._fixtures.firestore import TEST_PROJECT

LOCAL = "https://mcp.example.com"
ISSUER = "https://issuer.example.com/"
KEY = secrets.token_urlsafe(48)


def local_settings(**env: str) -> Settings:
    return Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": f"{LOCAL}/mcp",
            "MCP_AUTH_PROVIDERS": "jwt",
            "MCP_AUTH_JWT_ISSUER": ISSUER,
            "MCP_AUTH_JWT_HS256_KEY": KEY,
            **env,
        }
    )


def local_token(
    user: str, *, scopes: str | None = "mcp:tools", audience: str = f"{LOCAL}/mcp", ttl: int = 600, **claims: Any
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": audience,
        "sub": user,
        "iat": now,
        "exp": now + ttl,
        **({"scope": scopes} if scopes is not None else {}),
        **claims,
    }
    return jwt.encode(body, KEY, algorithm="HS256")


def local_client(app: Any, base: str = LOCAL) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


@pytest.fixture
def local_app(firestore_emulator: object) -> Iterator[Callable[..., McpAuthApp]]:
    built: list[McpAuthApp] = []

    def make(factory: Any, **env: str) -> McpAuthApp:
        settings = local_settings(
            **{
                "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
                "MCP_AUTH_RATE_LIMIT_IP": "off",
                "MCP_AUTH_RATE_LIMIT_USER": "off",
                "MCP_AUTH_RATE_LIMIT_TOOL": "off",
                **env,
            }
        )
        app = wrap_server(factory, settings=settings)
        built.append(app)
        return app

    yield make
    for app in built:
        if app.services.secrets is not None:
            app.services.secrets.close()
        if app.services.revocations is not None:
            app.services.revocations.stop()
