"""The built-in authorization server in process: the whole app (``wrap_server`` with the oauth
provider), its secrets on the Secret Manager emulator, its state on the Firestore emulator.

    oauth_app    make(**settings) -> OAuthApp. ``settings`` are extra environment entries
                 (None removes one). ``.client()`` is an httpx client calling the app in process
                 from an IPv6 /64 of its own (per-address limits never meet another test's);
                 ``.serve(port)`` serves it with uvicorn on loopback for the length of a ``with``;
                 ``.documents`` is a loopback server for client metadata documents that also
                 serves the upstream OpenID provider's discovery document.

    signing_key()               a fresh P-256 key, PEM (PKCS#8), as the server reads its signing secret
    upstream_client(secret, o)  the deployment's registration at the OpenID stand-in, called back at ``o``
    store_secrets(endpoint, …)  the upstream client secret and a fresh signing key in the Secret Manager
                                emulator, under names sharing one random suffix (returned)
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from mcp.server.mcpserver import MCPServer

from mcp_auth import Settings, wrap_server
from mcp_auth.app import McpAuthApp
from tests._fixtures.firestore import TEST_PROJECT
from tests.oauth.documents import DocumentServer, serve_documents

BASE = "https://mcp.example.com"
UPSTREAM_CLIENT = "mcp-deployment"


def signing_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def upstream_client(secret: str, origin: str, *, refresh: bool = True) -> dict[str, Any]:
    return {
        "client_id": UPSTREAM_CLIENT,
        "client_secret": secret,
        "grant_types": ["authorization_code", "refresh_token"] if refresh else ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [f"{origin}/oauth/callback"],
    }


def store_secrets(endpoint: str, *, upstream_secret: str, upstream_name: str = "oauth-upstream") -> str:
    # imported here: a fixture module imported by another before pytest loads it as a plugin is not rewritten
    from tests._fixtures.secret_manager import SecretManagerAdmin

    suffix = uuid.uuid4().hex[:8]
    admin = SecretManagerAdmin(endpoint, TEST_PROJECT)
    try:
        admin.create_secret(f"{upstream_name}-{suffix}", upstream_secret.encode())
        admin.create_secret(f"oauth-signing-{suffix}", signing_key())
    finally:
        admin.close()
    return suffix


def random_64() -> str:
    """A /64 of the documentation range (2001:db8::/32) nobody else in the run uses."""
    return f"2001:db8:{secrets.randbits(16):x}:{secrets.randbits(16):x}"


@dataclass
class OAuthApp:
    app: McpAuthApp
    documents: DocumentServer
    base: str = BASE

    def client(self, *, address: str | None = None) -> httpx.AsyncClient:
        """Requests as from ``address`` (default: the first address of a fresh /64)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=self.base,
            headers={"X-Forwarded-For": address or f"{random_64()}::1"},
        )

    @contextmanager
    def serve(self, port: int) -> Iterator[str]:
        """The app behind uvicorn on ``127.0.0.1:port`` (its resource URL must name that port); yields its base URL."""
        server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )

        async def serve_then_close() -> None:
            """Serve, then close what the app opened on this loop (the pooled HTTP client's connections),
            so none is left for the garbage collector to report in a later test."""
            from mcp_auth.http import close_http_client

            try:
                await server.serve()
            finally:
                await close_http_client()
                if self.app.services.revocations is not None:
                    self.app.services.revocations.stop()

        thread = threading.Thread(target=lambda: asyncio.run(serve_then_close()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {port}")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture
def oauth_app(firestore_emulator, secret_manager) -> Iterator[Callable[..., OAuthApp]]:
    secret_manager.create_secret("oauth-upstream", secrets.token_urlsafe(32).encode())
    secret_manager.create_secret("oauth-signing", signing_key())
    names = f"projects/{secret_manager.project}/secrets"
    with serve_documents() as documents:
        upstream = documents.base
        documents.publish(
            "/.well-known/openid-configuration",
            {
                "issuer": upstream,
                "authorization_endpoint": f"{upstream}/authorize",
                "token_endpoint": f"{upstream}/token",
                "jwks_uri": f"{upstream}/jwks",
            },
        )

        def make(**settings: str | None) -> OAuthApp:
            env: dict[str, str | None] = {
                "MCP_AUTH_RESOURCE_URL": f"{BASE}/mcp",
                "MCP_AUTH_PROVIDERS": "oauth",
                "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
                "MCP_AUTH_SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": upstream,
                "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": UPSTREAM_CLIENT,
                "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": f"{names}/oauth-upstream",
                "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": f"{names}/oauth-signing",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com",
                "MCP_AUTH_OAUTH_ALLOW_LOOPBACK": "true",
                **settings,
            }
            settings = Settings.from_env({k: v for k, v in env.items() if v is not None})
            app = wrap_server(lambda record: MCPServer("t"), settings=settings)
            parts = urlsplit(settings.resource_url)
            return OAuthApp(app=app, documents=documents, base=f"{parts.scheme}://{parts.netloc}")

        yield make
