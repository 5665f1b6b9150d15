"""Per-tool scopes: hidden from tools/list, refused before dispatch (403) or in dispatch (JSON-RPC error)."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from tests._fixtures.http import MODERN, post_mcp
from tests.e2e.clients import MODES, mcp_client


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_shows_only_what_the_token_allows(function_server, make_user, mint, mode):
    user = await make_user(scopes=("mcp:tools",))
    token = mint(user.uid, audience=function_server.url, scopes="profile")  # no mcp:tools
    async with mcp_client(function_server.url, token, mode=mode) as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert names == ["whoami"]


@pytest.mark.parametrize("mode", MODES)
async def test_record_scopes_bound_what_a_token_can_claim(function_server, make_user, mint, mode):
    user = await make_user(scopes=())  # the administrator granted nothing
    token = mint(user.uid, audience=function_server.url, scopes="mcp:tools")
    async with mcp_client(function_server.url, token, mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["whoami"]


async def test_handshake_era_call_without_scope_is_a_jsonrpc_error_naming_it(function_server, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url, scopes="profile")
    async with mcp_client(function_server.url, token, mode="legacy") as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("echo", {"text": "x"})
    assert caught.value.error.code == -32003
    assert "mcp:tools" in caught.value.error.message
    assert caught.value.error.data == {"error": "insufficient_scope", "scope": "mcp:tools"}


async def test_modern_call_naming_a_forbidden_tool_gets_403_before_dispatch(function_server, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url, scopes="profile")
    r = post_mcp(
        function_server.url,
        "tools/call",
        {"name": "echo", "arguments": {"text": "x"}},
        token=token,
        protocol=MODERN,
        request_id=7,
    )
    assert r.status_code == 403
    challenge = r.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="mcp:tools"' in challenge
    assert r.json()["error"] == "insufficient_scope"


async def test_header_naming_an_allowed_tool_cannot_smuggle_a_forbidden_call(function_server, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url, scopes="profile")
    r = post_mcp(
        function_server.url,
        "tools/call",
        {"name": "echo", "arguments": {"text": "x"}},
        token=token,
        protocol=MODERN,
        request_id=8,
        headers={"Mcp-Name": "whoami"},
    )
    assert r.status_code in (200, 400)
    assert "x" not in json.dumps(r.json().get("result", {}))
    assert "error" in r.json()


async def test_allowed_call_succeeds_with_headers(function_server, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url, scopes="mcp:tools")
    r = post_mcp(
        function_server.url,
        "tools/call",
        {"name": "echo", "arguments": {"text": "ok"}},
        token=token,
        protocol=MODERN,
        request_id=9,
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"]["content"][0]["text"] == "ok"
