"""The MCP endpoint's gates, in process against the Firestore emulator: the credential headers parsed once,
the user's request limit, and a 2026-07-28 call naming a forbidden tool refused before dispatch."""

from __future__ import annotations

import logging

import pytest

from mcp_auth import Toolset, ToolsetFactory, current_user, tool
from tests._fixtures.http import MODERN, challenge, mcp_request
from tests._fixtures.local_app import local_client, local_token

RAN: list[str] = []


def echo(text: str) -> str:
    """Echo the text."""
    return text


def secret() -> str:
    """What only an administrator may read."""
    RAN.append(current_user().user_id)
    return "the secret"


FACTORY = ToolsetFactory(
    [Toolset("basics", tools=[tool(echo, scopes=["mcp:tools"]), tool(secret, scopes=["admin:secrets"])])]
)


@pytest.fixture
async def app(local_app):
    return local_app(FACTORY)


@pytest.fixture
async def alice(make_user):
    return await make_user(toolsets=("basics",), scopes=("mcp:tools",))


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
async def test_two_credential_headers_of_one_kind_are_refused_before_any_provider_runs(app, alice, caplog, header):
    token = local_token(alice.uid)
    value = f"Bearer {token}" if header == "Authorization" else token
    request = mcp_request()
    headers = [*request["headers"].items(), (header, value), (header, value)]
    async with local_client(app) as client:
        with caplog.at_level(logging.INFO, logger="mcp_auth.request"):
            refused = await client.post("/mcp", headers=headers, content=request["content"])
            served = await client.post("/mcp", **mcp_request(token=token))  # the same token, sent once, is good
    assert refused.status_code == 401
    assert refused.json()["error_description"] == "Send exactly one Authorization (or X-API-Key) header."
    assert challenge(refused)["error"] == "invalid_token"
    assert served.status_code == 200
    lines = [r for r in caplog.records if r.name == "mcp_auth.request"]
    assert [r.httpRequest["status"] for r in lines] == [401, 200]
    line = lines[0]
    assert not hasattr(line, "user")  # no provider produced a principal
    assert line.auth == {"decision": "denied", "method": None, "reason": "invalid_token"}


SCHEME = "Use the Bearer scheme: 'Authorization: Bearer <token>'."
NO_TOKEN = "The Authorization header has no token after 'Bearer'."


@pytest.mark.parametrize(
    ("authorization", "description"),
    [
        ("Basic dXNlcjpwYXNz", SCHEME),
        ("Token abc", SCHEME),
        ("Bearer:abc", SCHEME),
        ("JWT a.b.c", SCHEME),
        ("Bearer", NO_TOKEN),
        ("Bearer ", NO_TOKEN),
        ("Bearer \t ", NO_TOKEN),
    ],
)
async def test_a_non_bearer_scheme_or_an_empty_bearer_is_refused_saying_what_to_send(app, authorization, description):
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(headers={"Authorization": authorization}))
    assert r.status_code == 401
    assert r.json()["error_description"] == description
    assert challenge(r)["error"] == "invalid_token"


async def test_the_scheme_name_is_case_insensitive(app, alice):
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(headers={"Authorization": f"bEaReR {local_token(alice.uid)}"}))
    assert r.status_code == 200, r.text


async def test_no_credential_at_all_is_challenged_without_an_error_code(app):
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request())
    assert r.status_code == 401
    params = challenge(r)
    assert "error" not in params and params["scope"] == "admin:secrets mcp:tools"
    assert params["resource_metadata"] == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


@pytest.fixture
async def keyed_app(local_app):
    return local_app(FACTORY, MCP_AUTH_PROVIDERS="jwt,api_key", MCP_AUTH_API_KEY_PEPPER="p" * 32)


async def test_an_api_key_in_both_headers_is_refused_by_the_api_key_provider(keyed_app):
    key = "mak_" + "A" * 16 + "_" + "s" * 32
    async with local_client(keyed_app) as client:
        r = await client.post("/mcp", **mcp_request(token=key, headers={"X-API-Key": key}))
    assert r.status_code == 401
    assert r.json()["error_description"] == "Send either an Authorization header or an X-API-Key header, not both."


async def test_a_jwt_beside_an_x_api_key_is_refused_whichever_provider_would_take_it(keyed_app, alice):
    """Two credentials in one request: which one decides would depend on the provider order, so neither does."""
    headers = {"X-API-Key": "mak_" + "A" * 16 + "_" + "s" * 32}
    async with local_client(keyed_app) as client:
        both = await client.post("/mcp", **mcp_request(token=local_token(alice.uid), headers=headers))
        alone = await client.post("/mcp", **mcp_request(token=local_token(alice.uid)))
    assert both.status_code == 401 and challenge(both)["error"] == "invalid_token"
    assert "not both" in both.json()["error_description"]
    assert alone.status_code == 200, alone.text


async def test_the_users_request_limit_answers_429_with_retry_after(local_app, alice, make_user):
    app = local_app(FACTORY, MCP_AUTH_RATE_LIMIT_USER="2/day")  # day windows: no boundary in a test
    other = await make_user(toolsets=("basics",), scopes=("mcp:tools",))
    async with local_client(app) as client:
        statuses = [
            (await client.post("/mcp", **mcp_request(token=local_token(alice.uid)))).status_code for _ in range(2)
        ]
        limited = await client.post("/mcp", **mcp_request(token=local_token(alice.uid)))
        others = await client.post("/mcp", **mcp_request(token=local_token(other.uid)))
    assert statuses == [200, 200]
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert others.status_code == 200  # the limit is the user's, not the endpoint's


def _call(name: str, token: str) -> dict:
    return mcp_request("tools/call", {"name": name, "arguments": {}}, token=token, protocol=MODERN)


async def test_a_modern_call_naming_a_forbidden_tool_is_403_insufficient_scope_before_the_tool_runs(
    app, alice, make_user
):
    admin = await make_user(toolsets=("basics",), scopes=("mcp:tools", "admin:secrets"))
    RAN.clear()
    async with local_client(app) as client:
        refused = await client.post("/mcp", **_call("secret", local_token(alice.uid, scopes="mcp:tools admin:secrets")))
        assert RAN == []
        allowed = await client.post("/mcp", **_call("secret", local_token(admin.uid, scopes="mcp:tools admin:secrets")))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert "'secret'" in refused.json()["error_description"]
    params = challenge(refused)
    assert params["error"] == "insufficient_scope" and params["scope"] == "admin:secrets"  # what is missing only
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["result"]["content"][0]["text"] == "the secret" and RAN == [admin.uid]
