"""Deadlines and shutdown: a tool that runs too long is cancelled with a reason; SIGTERM lets work finish."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx
import pytest

from tests._fixtures.http import mcp_request
from tests.e2e.clients import MODES, mcp_client


@pytest.mark.parametrize("mode", MODES)
async def test_tool_past_its_deadline_is_cancelled_and_the_client_told_why(start_function, make_user, mint, mode):
    server = start_function(MCP_AUTH_TOOL_TIMEOUT="1")
    user = await make_user()
    async with mcp_client(server.url, mint(user.uid, audience=server.url), mode=mode) as client:
        result = await client.call_tool("echo_with_progress", {"text": "slow", "steps": 4, "delay": 1})
        assert result.is_error
        assert "did not finish within 1 s" in result.content[0].text
        assert "MCP_AUTH_TOOL_TIMEOUT" in result.content[0].text
        quick = await client.call_tool("echo", {"text": "still serving"})
    assert quick.content[0].text == "still serving"


async def test_sigterm_lets_an_inflight_stream_finish_then_refuses_new_requests(start_function, make_user, mint):
    server = start_function()
    user = await make_user()
    request = mcp_request(
        "tools/call",
        {
            "name": "echo_with_progress",
            "_meta": {"progressToken": "p"},
            "arguments": {"text": "finished", "steps": 3, "delay": 1},
        },
        token=mint(user.uid, audience=server.url),
    )
    events: list[dict] = []
    async with httpx.AsyncClient(timeout=30) as http:
        async with http.stream("POST", server.url, **request) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                events.append(json.loads(line[5:]))
                if len(events) == 1:  # the first progress notification: now stop the instance
                    os.killpg(server.process.pid, signal.SIGTERM)
    assert events[0]["method"] == "notifications/progress"
    assert events[-1]["result"]["content"][0]["text"] == "finished"
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base + "/healthz", timeout=5)
