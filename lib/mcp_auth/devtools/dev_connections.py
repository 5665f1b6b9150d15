"""Connected accounts under ``mcp-auth dev``: the GitHub stand-in (``dev_github``) and the Secret Manager
stand-in (``dev_secrets``) holding the keys the function needs, served together on one loopback server, and
the settings that point the function at them. For local development only: refused on Cloud Run, like the
settings it produces (an http:// provider, a Secret Manager endpoint)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from starlette.applications import Starlette

from mcp_auth.devtools.dev_github import DevGitHub
from mcp_auth.devtools.dev_secrets import DevSecrets
from mcp_auth.devtools.loopback import LoopbackServer, refuse_on_cloud_run

CLIENT_SECRET, VAULT_KEY, LINK_KEY = "dev-github-client-secret", "dev-connections-key", "dev-connect-link-key"
"""The development secrets' names: the GitHub OAuth app's client secret, the vault's key, the links' key."""


@dataclass(frozen=True, slots=True)
class DevConnections:
    """What ``mcp-auth dev`` runs for connected accounts: the GitHub stand-in and the Secret Manager stand-in
    holding the keys the function needs, on one loopback server; ``environment`` points the function at them."""

    github: DevGitHub
    server: LoopbackServer
    environment: dict[str, str]

    def stop(self) -> None:
        self.server.stop()


def serve_dev_connections(*, project: str, function_url: str) -> DevConnections:
    """Start the stand-ins on a free loopback port for the function at ``function_url`` (its base URL), with a
    client secret, a vault key and a link key generated now, for this run only."""
    refuse_on_cloud_run("The development GitHub stand-in")
    app = Starlette()
    server = LoopbackServer(app)
    github = DevGitHub(url=server.url, callback_url=f"{function_url.rstrip('/')}/connect/github/callback")
    keys = DevSecrets(
        project=project,
        secrets={
            CLIENT_SECRET: github.client_secret.encode(),
            VAULT_KEY: secrets.token_bytes(32),
            LINK_KEY: secrets.token_bytes(32),
        },
    )
    app.router.routes.extend([*github.routes, *keys.routes])
    server.start()
    environment = {
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": server.url,
        "MCP_AUTH_CONNECTIONS": json.dumps([github.provider(CLIENT_SECRET)]),
        "MCP_AUTH_CONNECTIONS_KEY_SECRET": VAULT_KEY,
        "MCP_AUTH_CONNECT_LINK_KEY_SECRET": LINK_KEY,
        "GITHUB_API_URL": server.url,  # the example toolset's API (functions/toolsets/github.py)
    }
    return DevConnections(github=github, server=server, environment=environment)
