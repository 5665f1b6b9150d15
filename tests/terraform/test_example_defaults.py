"""What the example tfvars deploys works for a new user: its settings pass ``mcp-auth check`` against the
toolsets in ``functions/``, and a user created on first login with its defaults lists tools.

The settings are the function environment of the example's plan (what Terraform would really set),
served in process against the Firestore emulator; only the token source is swapped for a local key.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from factory import FACTORY
from mcp_auth import Settings, wrap_server
from mcp_auth.checks import configuration_problems
from mcp_auth.config import SETTINGS
from tests._fixtures.firestore import TEST_PROJECT
from tests.terraform.plan_json import function_env

BASE = "http://127.0.0.1:8080"


def _example_settings(plan: dict[str, Any], **overrides: str) -> Settings:
    env = {k: v for k, v in function_env(plan).items() if k in SETTINGS}
    return Settings.from_env({**env, **overrides})


def test_the_example_settings_pass_the_configuration_check(terraform_plan: dict[str, Any]) -> None:
    assert configuration_problems(_example_settings(terraform_plan), FACTORY) == []


def test_the_check_refuses_defaults_that_give_a_new_user_no_tool_and_unused_advertised_scopes(
    terraform_plan: dict[str, Any],
) -> None:
    settings = _example_settings(
        terraform_plan,
        MCP_AUTH_DEFAULT_TOOLSETS="notes",
        MCP_AUTH_DEFAULT_SCOPES="mcp:tools",
        MCP_AUTH_SCOPES_SUPPORTED="mcp:tools,mcp:admin",
    )
    problems = configuration_problems(settings, FACTORY)
    assert len(problems) == 2
    assert "could call none of its tools" in problems[0] and "notes:read, notes:write" in problems[0]
    assert "mcp:admin" in problems[1] and "mcp:tools" not in problems[1]


@pytest.mark.usefixtures("firestore_emulator")
async def test_a_user_created_with_the_example_defaults_lists_tools(terraform_plan: dict[str, Any]) -> None:
    key = secrets.token_urlsafe(48)
    settings = _example_settings(
        terraform_plan,
        MCP_AUTH_RESOURCE_URL=f"{BASE}/mcp",
        MCP_AUTH_ALLOWED_HOSTS="",
        MCP_AUTH_JWT_HS_SECRET="",
        MCP_AUTH_JWT_HS256_KEY=key,
        MCP_AUTH_JWT_AUDIENCE=f"{BASE}/mcp",
        GOOGLE_CLOUD_PROJECT=TEST_PROJECT,
        MCP_AUTH_FIRESTORE_DATABASE="(default)",
        MCP_AUTH_RATE_LIMIT_USER="off",
        MCP_AUTH_RATE_LIMIT_TOOL="off",
    )
    assert settings.first_login == "create"
    app = wrap_server(FACTORY, settings=settings)
    uid = f"new-{uuid.uuid4().hex[:10]}"
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": uid,
            "iat": now,
            "exp": now + 300,
            "scope": " ".join(settings.default_scopes),
        },
        key,
        algorithm="HS256",
    )
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/list",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        response = await client.post("/mcp", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    names = {tool["name"] for tool in _result(response)["tools"]}
    assert {"create_note", "list_notes", "whoami", "echo"} <= names


def _result(response: httpx.Response) -> dict[str, Any]:
    if response.headers["content-type"].startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])["result"]
    return response.json()["result"]
