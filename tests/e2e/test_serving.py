"""One authenticated request → the user's own MCP server, with the real `mcp` client."""

from __future__ import annotations

import pytest
from mcp_types import CallToolResult

from tests._fixtures.http import HANDSHAKE, MODERN, mcp_request
from tests.e2e.clients import MODES, mcp_client

pytestmark = pytest.mark.parametrize("mode", MODES)


def _text(result: CallToolResult) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def test_client_lists_and_calls_tools(function_server, make_user, mint, mode):
    user = await make_user()
    async with mcp_client(function_server.url, mint(user.uid, audience=function_server.url), mode=mode) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        assert names == ["echo", "echo_with_progress", "whoami"]
        result = await client.call_tool("echo", {"text": "héllo"})
        assert not result.is_error
        assert _text(result) == "héllo"


async def test_whoami_answers_the_caller(function_server, make_user, mint, mode):
    user = await make_user(scopes=("mcp:tools", "notes:read"))
    token = mint(user.uid, audience=function_server.url, scopes="mcp:tools other")
    async with mcp_client(function_server.url, token, mode=mode) as client:
        result = await client.call_tool("whoami", {})
    assert result.structured_content == {
        "user_id": user.uid,
        "auth_method": "jwt",
        "scopes": ["mcp:tools"],  # the token's scopes, narrowed to the record's
        "toolsets": ["basics"],
    }


async def test_two_users_get_their_own_servers(function_server, make_user, mint, mode):
    full = await make_user(toolsets=("basics",))
    empty = await make_user(toolsets=())
    async with mcp_client(function_server.url, mint(full.uid, audience=function_server.url), mode=mode) as c:
        assert len((await c.list_tools()).tools) == 3
        assert (await c.call_tool("whoami", {})).structured_content["user_id"] == full.uid
    async with mcp_client(function_server.url, mint(empty.uid, audience=function_server.url), mode=mode) as c:
        assert (await c.list_tools()).tools == []
        result = await c.call_tool("whoami", {})
        assert result.is_error  # not this user's tool


async def test_progress_notifications_reach_the_client(function_server, make_user, mint, mode):
    user = await make_user()
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with mcp_client(function_server.url, mint(user.uid, audience=function_server.url), mode=mode) as client:
        result = await client.call_tool(
            "echo_with_progress", {"text": "done", "steps": 3, "delay": 0}, progress_callback=on_progress
        )
    assert _text(result) == "done"
    assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


async def test_progress_is_streamed_live_not_with_the_result(start_function, make_user, mint, mode, tmp_path):
    """The tool finishes only after the client reacts to its first progress notification."""
    from pathlib import Path

    server = start_function(_SOURCE=str(Path(__file__).parent / "gated_function" / "main.py"))
    user = await make_user()
    gate = tmp_path / "gate"

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        gate.touch()

    async with mcp_client(server.url, mint(user.uid, audience=server.url), mode=mode) as client:
        result = await client.call_tool("progress_then_wait", {"gate": str(gate)}, progress_callback=on_progress)
    assert _text(result) == "released"


async def test_idle_sse_streams_carry_keep_alive_comments(start_function, make_user, mint, mode, tmp_path):
    """A tool that stays silent after its first notification: the stream keeps talking (MCP_AUTH_SSE_KEEPALIVE)."""
    import json
    from pathlib import Path

    import httpx

    gated = Path(__file__).parent / "gated_function" / "main.py"
    server = start_function(_SOURCE=str(gated), MCP_AUTH_SSE_KEEPALIVE="1")
    user = await make_user()
    gate = tmp_path / "gate"
    request = mcp_request(
        "tools/call",
        {"name": "progress_then_wait", "arguments": {"gate": str(gate)}, "_meta": {"progressToken": "k"}},
        token=mint(user.uid, audience=server.url),
        protocol=MODERN if mode == "auto" else HANDSHAKE,
    )
    comments, result = [], None
    async with httpx.AsyncClient(timeout=60) as http:
        async with http.stream("POST", server.url, **request) as response:
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    comments.append(line)
                    gate.touch()  # release the tool only once a keep-alive has arrived
                elif line.startswith("data:") and "result" in (data := json.loads(line[5:])):
                    result = data["result"]
    assert comments, "no keep-alive comment on an idle stream"
    assert result is not None and result["content"][0]["text"] == "released"
