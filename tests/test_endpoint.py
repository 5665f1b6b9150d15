"""The MCP endpoint's gates, in process against the Firestore emulator: the credential headers parsed once,
the user's request limit, and a call of a forbidden tool refused before dispatch (403 and a challenge the
client can step up from) on every protocol generation, in a batch, but not as a notification."""

from __future__ import annotations

import logging

import pytest

from mcp_auth import Toolset, ToolsetFactory, current_user, tool
from tests._fixtures.http import MODERN, challenge, mcp_request, messages
from tests._fixtures.local_app import local_client, local_token

RAN: list[str] = []


def echo(text: str) -> str:
    """Echo the text."""
    return text


def secret() -> str:
    """What only an administrator may read."""
    RAN.append(current_user().user_id)
    return "the secret"


def mark() -> str:
    """Leave a mark (any user)."""
    RAN.append("mark")
    return "marked"


def purge() -> str:
    """Delete the audit trail (an auditor only)."""
    RAN.append("purge")
    return "purged"


FACTORY = ToolsetFactory(
    [Toolset("basics", tools=[tool(echo, scopes=["mcp:tools"]), tool(secret, scopes=["admin:secrets"])])]
)
BATCHES = ToolsetFactory(
    [
        Toolset(
            "basics",
            tools=[
                tool(mark, scopes=["mcp:tools"]),
                tool(secret, scopes=["admin:secrets"]),
                tool(purge, scopes=["admin:audit"]),
            ],
        )
    ]
)
GENERATIONS = ("2025-03-26", "2025-06-18", "2025-11-25", MODERN)


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


def _message(name: str, request_id: int | None = 1) -> dict:
    message: dict = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": name, "arguments": {}}}
    return message if request_id is None else {**message, "id": request_id}


@pytest.mark.parametrize("protocol", GENERATIONS)
async def test_a_forbidden_call_is_403_with_a_step_up_challenge_on_every_protocol_generation(app, alice, protocol):
    """Handshake-era calls used to get a JSON-RPC error inside HTTP 200, which starts no client's step-up."""
    token = local_token(alice.uid, scopes="mcp:tools")
    RAN.clear()
    async with local_client(app) as client:
        refused = await client.post(
            "/mcp", **mcp_request("tools/call", {"name": "secret"}, token=token, protocol=protocol)
        )
        allowed = await client.post(
            "/mcp",
            **mcp_request("tools/call", {"name": "echo", "arguments": {"text": "hi"}}, token=token, protocol=protocol),
        )
    assert refused.status_code == 403 and RAN == []
    assert refused.json() == {
        "error": "insufficient_scope",
        "error_description": "The tool 'secret' needs scope(s): admin:secrets.",
    }
    params = challenge(refused)
    assert params["error"] == "insufficient_scope" and params["scope"] == "admin:secrets"
    assert params["resource_metadata"] == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    assert allowed.status_code == 200, allowed.text
    assert messages(allowed)[-1]["result"]["content"][0]["text"] == "hi"


async def test_a_forbidden_call_is_found_however_its_json_spells_it(app, alice):
    token = local_token(alice.uid, scopes="mcp:tools")
    content = b'{"jsonrpc":"2.0","id":3,"method":"tools\\/call","params":{"name":"s\\u0065cret","arguments":{}}}'
    RAN.clear()
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(token=token, content=content))
    assert r.status_code == 403 and challenge(r)["scope"] == "admin:secrets" and RAN == []


async def test_a_modern_header_naming_an_allowed_tool_does_not_hide_a_forbidden_call_in_the_body(app, alice):
    token = local_token(alice.uid, scopes="mcp:tools")
    request = mcp_request("tools/call", {"name": "secret"}, token=token, protocol=MODERN, headers={"Mcp-Name": "echo"})
    RAN.clear()
    async with local_client(app) as client:
        r = await client.post("/mcp", **request)
    assert r.status_code == 403 and challenge(r)["scope"] == "admin:secrets" and RAN == []


async def test_a_batch_with_any_forbidden_call_is_refused_whole_naming_every_missing_scope(local_app, make_user):
    """2025-03-26 allows batches: one 403 for the whole batch, so the allowed calls in it do not run now and
    again when the client retries the batch after stepping up."""
    app = local_app(BATCHES)
    user = await make_user(toolsets=("basics",), scopes=("mcp:tools", "admin:secrets", "admin:audit"))
    token = local_token(user.uid, scopes="mcp:tools")
    batch = [_message("mark", 1), _message("secret", 2), _message("purge", 3), _message("secret", 4)]
    RAN.clear()
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(token=token, protocol="2025-03-26", body=batch))
    assert r.status_code == 403 and RAN == []
    assert challenge(r)["scope"] == "admin:audit admin:secrets"
    assert r.json()["error_description"] == "The tools 'purge', 'secret' need scope(s): admin:audit admin:secrets."


async def test_a_batch_of_allowed_calls_is_left_to_the_transport(app, alice):
    token = local_token(alice.uid, scopes="mcp:tools")
    batch = [_message("echo", 1), _message("secret", None)]  # a notification in a batch is not a call
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(token=token, protocol="2025-03-26", body=batch))
    assert r.status_code != 403 and r.status_code < 500


@pytest.mark.parametrize("protocol", ["2025-03-26", "2025-11-25"])
async def test_a_tools_call_notification_is_no_call_it_runs_nothing_and_is_not_refused(app, alice, protocol):
    """A notification gets no answer and runs no tool: there is nothing to step up for."""
    token = local_token(alice.uid, scopes="mcp:tools")
    RAN.clear()
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(token=token, protocol=protocol, body=_message("secret", None)))
    assert r.status_code == 202 and RAN == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret"',  # cut short
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["secret"]}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["secret"]}}',
        b'{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"secret"}}',
        b'["tools/call", 1, null, {"method": "tools/call"}]',
        b'"tools/call"',
        b'{"method":"tools/call","id":1,"params":{"name":"\\ud800"}}',
        b'{"method":"tools/call","id":1,"params":{"name":"\xff\xfe"}}',
        b"[" * 64 + b'"tools/call"' + b"]" * 64,
        b"[]",
    ],
)
async def test_malformed_calls_are_left_to_the_transport_never_a_500_and_run_nothing(app, alice, content):
    """What is not a well-formed call is the SDK's to answer (400, or a JSON-RPC error): never a 500."""
    token = local_token(alice.uid, scopes="mcp:tools")
    RAN.clear()
    async with local_client(app) as client:
        r = await client.post("/mcp", **mcp_request(token=token, content=content))
    assert r.status_code < 500 and r.status_code != 403, r.text
    assert RAN == [] and all("result" not in m for m in (messages(r) if r.content else []) if isinstance(m, dict))
