"""The production entry point enforces the limits from its settings (day windows: no boundary in a test run)."""

from __future__ import annotations

from tests._fixtures.http import post_mcp


async def test_failed_attempts_from_one_address_are_limited(start_function, make_user, mint):
    server = start_function(MCP_AUTH_RATE_LIMIT_IP="5/day")
    statuses = [post_mcp(server.url, token="not-a-token").status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    r = post_mcp(server.url, token="not-a-token")
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["error"] == "rate_limited"


async def test_each_user_is_limited_across_the_deployment(start_function, make_user, mint, user_repo):
    server = start_function(MCP_AUTH_RATE_LIMIT_USER="3/day")
    user, other = await make_user(), await make_user()
    token = mint(user.uid, audience=server.url)
    assert [post_mcp(server.url, token=token).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert post_mcp(server.url, token=mint(other.uid, audience=server.url)).status_code == 200  # others are unaffected

    await user_repo.update(other.uid, quotas={"user": "1/day"})  # a per-user override
    assert post_mcp(server.url, token=mint(other.uid, audience=server.url)).status_code == 429
