"""What a deployment does not use, it does not import: cold starts pay only for what requests need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
from mcp.server.mcpserver import MCPServer
from mcp_auth import Settings, wrap_server
settings = Settings.from_env({
    "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:9/mcp", "MCP_AUTH_PROVIDERS": "jwt",
    "MCP_AUTH_JWT_ISSUER": "https://issuer.example/", "MCP_AUTH_JWT_HS256_KEY": "k" * 48,
})
app = wrap_server(lambda record: MCPServer("probe"), settings=settings)
from mcp_auth.credentials import user_credential  # what a tool module imports
watched = ("mcp_auth.credentials.platform", "tenacity", "google.cloud.secretmanager", "mcp_auth.secrets.client")
print(json.dumps([m for m in watched if m in sys.modules]))
from mcp_auth.credentials import PlatformClient  # a name of the package still resolves, on first use
print(json.dumps(["mcp_auth.credentials.platform" in sys.modules, PlatformClient.__name__]))
"""


def test_without_a_platform_or_secrets_their_clients_are_not_imported():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUTH_")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded, later = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert loaded == []
    assert later == [True, "PlatformClient"]
