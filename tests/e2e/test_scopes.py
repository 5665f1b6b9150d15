"""Per-tool scopes: hidden from tools/list, a forbidden call refused before dispatch (403 and a challenge naming
the scope) on every protocol generation."""

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


@pytest.mark.parametrize("mode", MODES)
async def test_a_real_client_calling_a_forbidden_tool_gets_an_error_not_a_result(
    function_server, make_user, mint, mode
):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url, scopes="profile")
    async with mcp_client(function_server.url, token, mode=mode) as client:
        with pytest.raises(MCPError):
            await client.call_tool("echo", {"text": "x"})


@pytest.mark.parametrize("protocol", ["2025-03-26", "2025-06-18", "2025-11-25", MODERN])
async def test_a_call_naming_a_forbidden_tool_gets_403_before_dispatch_on_every_generation(
    function_server, make_user, mint, protocol
):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url, scopes="profile")
    r = post_mcp(
        function_server.url,
        "tools/call",
        {"name": "echo", "arguments": {"text": "x"}},
        token=token,
        protocol=protocol,
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
    assert r.status_code == 403  # the body is what runs: its tool decides
    assert "x" not in json.dumps(r.json().get("result", {}))
    assert r.json()["error"] == "insufficient_scope"


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
