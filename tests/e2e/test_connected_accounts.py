"""The GitHub toolset with no platform: connected accounts end to end, through the round-robin proxy over
two instances. A user who has not connected GitHub calls a GitHub tool; a client that declared URL
elicitation sends its user (a browser: httpx with cookies, following redirects between the function and
the loopback GitHub stand-in) through the connect pages, and the tool answers with the user's
repositories - in the same call for a handshake-era client (elicitation/create on the back-channel, its
answer reaching either instance), by calling again for a 2026-07-28 client (error -32042, then a retry
on either instance). A client without URL elicitation gets the connect link in a tool error. No token
reaches a log line or an MCP message."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitResult

from tests._fixtures.http import authorization
from tests.e2e.clients import MODES, Mode


@pytest.fixture
def pair(start_function, round_robin_proxy, secret_manager, fake_github_oauth, leak_watch):
    """Two instances with GitHub as a connected account (no platform), behind the round-robin proxy."""
    proxy = round_robin_proxy()
    env = fake_github_oauth.connections_env(secret_manager)
    a, b = (
        start_function(MCP_AUTH_RESOURCE_URL=f"{proxy.url}/mcp", GITHUB_API_URL=fake_github_oauth.url, **env)
        for _ in range(2)
    )
    for fn in (a, b):
        leak_watch.watch_file(fn.log)
    proxy.route_to([a.base, b.base])
    return a, b, proxy


class Browser:
    """Follows a connect link as a person would: the page, its button, GitHub's consent, the callback."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.asked: list[Any] = []

    async def connect(self, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(30.0)) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
            done = await browser.post(url.split("?", 1)[0], data=form)
        assert done.status_code == 200, done.text
        self.pages.append(done.text)

    async def elicit(self, context: Any, params: Any) -> ElicitResult:
        self.asked.append(params)
        assert params.mode == "url"
        await self.connect(params.url)
        return ElicitResult(action="accept")


@asynccontextmanager
async def client_for(url: str, token: str, *, mode: Mode, browser: Browser | None) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers=authorization(token), timeout=httpx2.Timeout(30, read=90)) as http:
        async with Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            raise_exceptions=True,
            elicitation_callback=browser.elicit if browser else None,
        ) as client:
            yield client


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def _issued(github: Any) -> set[str]:
    return {token for tokens in github.grants.values() for token in tokens}


@pytest.mark.parametrize("mode", MODES)
async def test_a_user_connects_github_from_the_tool_call_and_it_answers(
    pair, fake_github_oauth, make_user, mint, leak_watch, mode
):
    a, b, proxy = pair
    login = f"gh-{secrets.token_hex(4)}"
    fake_github_oauth.browser_login = login
    fake_github_oauth.add_user(login, leak_watch.secret(secrets.token_urlsafe(16)), ["alpha", "beta"])
    user = await make_user(toolsets=("github",))
    jwt = leak_watch.secret(mint(user.uid, audience=f"{proxy.url}/mcp"))
    browser = Browser()

    async with client_for(f"{proxy.url}/mcp", jwt, mode=mode, browser=browser) as client:
        if mode == "legacy":  # the same call continues once the user has connected
            result = await client.call_tool("list_my_repositories", {})
        else:  # 2026-07-28: the call asks for the URL; the client sends the user there, then calls again
            with pytest.raises(MCPError) as raised:
                await client.call_tool("list_my_repositories", {})
            assert raised.value.error.code == URL_ELICITATION_REQUIRED
            (asked,) = UrlElicitationRequiredError.from_error(raised.value.error).elicitations
            browser.asked.append(asked)
            await browser.connect(asked.url)
            result = await client.call_tool("list_my_repositories", {})
        again = await client.call_tool("list_my_repositories", {"limit": 1})

    assert not result.is_error, _text(result)
    assert [r["full_name"] for r in result.structured_content["repositories"]] == [f"{login}/alpha", f"{login}/beta"]
    assert [r["full_name"] for r in again.structured_content["repositories"]] == [f"{login}/alpha"]
    (asked,) = browser.asked  # asked once: the second call found the connection in the vault
    assert asked.url.startswith(f"{proxy.url}/connect/github?link=") and "GitHub" in asked.message
    assert "GitHub is connected" in browser.pages[0]
    assert proxy.hits[a.base] and proxy.hits[b.base]
    issued = _issued(fake_github_oauth)
    assert issued
    shown = json.dumps([result.model_dump(mode="json"), again.model_dump(mode="json"), asked.model_dump()])
    assert not [token for token in issued if token in shown]
    assert leak_watch.leaks() == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_without_url_elicitation_gets_the_connect_link_in_a_tool_error(
    pair, fake_github_oauth, make_user, mint, leak_watch, mode
):
    _, _, proxy = pair
    user = await make_user(toolsets=("github",))
    jwt = leak_watch.secret(mint(user.uid, audience=f"{proxy.url}/mcp"))
    async with client_for(f"{proxy.url}/mcp", jwt, mode=mode, browser=None) as client:
        result = await client.call_tool("list_my_repositories", {})
    assert result.is_error
    text = _text(result)
    assert "Your GitHub account is not connected: connect GitHub at " in text
    link = re.search(r"(http://\S+/connect/github\?link=[A-Za-z0-9_.%-]+)", text)
    assert link and link.group(1).startswith(f"{proxy.url}/connect/github?link=")

    fake_github_oauth.browser_login = login = f"gh-{secrets.token_hex(4)}"
    fake_github_oauth.add_user(login, leak_watch.secret(secrets.token_urlsafe(16)), ["gamma"])
    await Browser().connect(link.group(1))  # the user opens the link from the error, then asks again
    async with client_for(f"{proxy.url}/mcp", jwt, mode=mode, browser=None) as client:
        result = await client.call_tool("list_my_repositories", {})
    assert [r["full_name"] for r in result.structured_content["repositories"]] == [f"{login}/gamma"]
    assert leak_watch.leaks() == []
