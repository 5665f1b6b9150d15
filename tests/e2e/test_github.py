"""The GitHub toolset end to end: real MCP client -> function -> platform -> GitHub-compatible server."""

from __future__ import annotations

import pytest

from tests.e2e.clients import MODES, mcp_client


def _text(result) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.parametrize("mode", MODES)
async def test_two_users_each_reach_github_with_their_own_token(
    start_function, credential_stack, make_user, mint, leak_watch, mode
):
    fn = start_function(**credential_stack.env())
    leak_watch.watch_file(fn.log)
    alice, bob = await make_user(toolsets=("github",)), await make_user(toolsets=("github",))
    alice_token = credential_stack.connect_github(alice.uid, "alice-gh", ["alpha", "beta"])
    bob_token = credential_stack.connect_github(bob.uid, "bob-gh", ["bravo"])
    jwts = {u.uid: leak_watch.secret(mint(u.uid, audience=fn.url)) for u in (alice, bob)}

    async with mcp_client(fn.url, jwts[alice.uid], mode=mode) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        repos = await client.call_tool("list_my_repositories", {})
        issue = await client.call_tool("create_issue", {"repository": "alice-gh/alpha", "title": "Flaky build"})
        elsewhere = await client.call_tool("create_issue", {"repository": "bob-gh/bravo", "title": "Hi"})
        found = await client.call_tool("search_my_issues", {"query": "Flaky"})
    async with mcp_client(fn.url, jwts[bob.uid], mode=mode) as client:
        bob_repos = await client.call_tool("list_my_repositories", {"limit": 5})
        bob_found = await client.call_tool("search_my_issues", {})

    assert tools == ["create_issue", "list_my_repositories", "search_my_issues"]
    assert [r["full_name"] for r in repos.structured_content["repositories"]] == ["alice-gh/alpha", "alice-gh/beta"]
    assert not issue.is_error and issue.structured_content["title"] == "Flaky build"
    assert elsewhere.is_error and "HTTP 404" in _text(elsewhere)
    assert [i["title"] for i in found.structured_content["issues"]] == ["Flaky build"]
    assert [r["full_name"] for r in bob_repos.structured_content["repositories"]] == ["bob-gh/bravo"]
    assert bob_found.structured_content == {"total_count": 0, "issues": []}

    # GitHub saw each user's own token, and nothing else that is secret.
    seen = credential_stack.github.requests
    assert {h["authorization"] for _, _, h in seen} == {f"Bearer {alice_token}", f"Bearer {bob_token}"}
    for _, _path, headers in seen:
        assert not {"x-user-authorization", "x-api-key", "cookie"} & set(headers)
        for value in (*jwts.values(), credential_stack.platform.service_token):
            assert value not in " ".join(headers.values())
    # The platform was asked with the service token, never with a user's JWT.
    assert credential_stack.platform.requests
    for headers in credential_stack.platform.requests:
        assert headers["authorization"] == f"Bearer {credential_stack.platform.service_token}"
        assert "x-user-authorization" not in headers


async def test_a_user_without_github_gets_a_tool_error_that_says_where_to_connect(
    start_function, credential_stack, make_user, mint, leak_watch
):
    fn = start_function(**credential_stack.env())
    leak_watch.watch_file(fn.log)
    carol = await make_user(toolsets=("github",))
    async with mcp_client(fn.url, leak_watch.secret(mint(carol.uid, audience=fn.url))) as client:
        result = await client.call_tool("list_my_repositories", {})
    assert result.is_error
    assert "Your GitHub account is not connected: connect GitHub at " in _text(result)
    assert f"{credential_stack.platform.url}/connect/github" in _text(result)
    assert credential_stack.github.requests == []


async def test_the_users_token_is_forwarded_to_the_platform_only_when_configured(
    start_function, credential_stack, make_user, mint, leak_watch
):
    fn = start_function(**credential_stack.env(MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN="true"))
    leak_watch.watch_file(fn.log)
    dave = await make_user(toolsets=("github",))
    credential_stack.connect_github(dave.uid, "dave-gh", ["delta"])
    jwt = leak_watch.secret(mint(dave.uid, audience=fn.url))
    async with mcp_client(fn.url, jwt) as client:
        result = await client.call_tool("list_my_repositories", {})
    assert not result.is_error
    assert credential_stack.platform.requests[-1]["x-user-authorization"] == f"Bearer {jwt}"
    assert all(jwt not in " ".join(h.values()) for _, _, h in credential_stack.github.requests)


async def test_a_token_github_rejects_is_reported_and_refetched_next_time(
    start_function, credential_stack, make_user, mint, leak_watch
):
    fn = start_function(**credential_stack.env())
    leak_watch.watch_file(fn.log)
    erin = await make_user(toolsets=("github",))
    old = credential_stack.connect_github(erin.uid, "erin-gh", ["echo"])
    jwt = leak_watch.secret(mint(erin.uid, audience=fn.url))
    async with mcp_client(fn.url, jwt) as client:
        assert not (await client.call_tool("list_my_repositories", {})).is_error
        credential_stack.github.revoke(old)
        rejected = await client.call_tool("list_my_repositories", {})
        new = credential_stack.connect_github(erin.uid, "erin-gh", ["echo"])
        again = await client.call_tool("list_my_repositories", {})
    assert rejected.is_error and "reconnect GitHub" in _text(rejected)
    assert not again.is_error
    assert credential_stack.github.requests[-1][2]["authorization"] == f"Bearer {new}"
