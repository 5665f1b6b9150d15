"""Nothing depends on one instance's memory: two function processes, requests round-robined."""

from __future__ import annotations

import pytest

from tests.e2e.clients import MODES, mcp_client


@pytest.mark.parametrize("mode", MODES)
async def test_two_instances_round_robin_give_the_same_results_as_one(
    start_function, round_robin_proxy, make_user, mint, mode
):
    proxy = round_robin_proxy()
    public = proxy.url + "/mcp"  # both instances serve the proxy's public URL, as behind a load balancer
    a = start_function(MCP_AUTH_RESOURCE_URL=public)
    b = start_function(MCP_AUTH_RESOURCE_URL=public)
    proxy.route_to([a.base, b.base])
    alice, bob = await make_user(toolsets=("basics",)), await make_user(toolsets=())

    results = []
    for user in (alice, bob, alice):
        async with mcp_client(public, mint(user.uid, audience=public), mode=mode) as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            who = await client.call_tool("whoami", {})
            echoes = [await client.call_tool("echo", {"text": str(i)}) for i in range(4)]
            results.append((user.uid, tools, who.structured_content, [e.is_error for e in echoes]))

    assert proxy.hits[a.base] >= 3 and proxy.hits[b.base] >= 3
    assert results[0] == results[2]
    assert results[0][1] == ["echo", "echo_with_progress", "whoami"]
    assert results[0][2]["user_id"] == alice.uid
    assert results[0][3] == [False] * 4
    assert results[1][1] == [] and results[1][3] == [True] * 4
