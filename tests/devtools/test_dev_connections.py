"""Connected accounts from ``make dev``: the seeded user calls a GitHub tool, is sent to connect, and the call
completes with the local GitHub stand-in (``mcp_auth.devtools.dev_github``), with no GitHub account, no OAuth
app and no Secret Manager.

The runner starts as a developer starts it (``shared_dev_server``: a checkout of its own, an empty ``.dev/``).
A real `mcp` client declaring URL elicitation calls ``list_my_repositories``; its elicitation handler is a
browser (httpx with cookies) that opens the connect link, presses "Continue to GitHub" on the function's page,
"Authorize" on the stand-in's page, and lands on the function's callback. The same call then answers with the
stand-in's repositories (a handshake-era client), or the next one does (a 2026-07-28 client, which gets error
-32042 with the URL first). No token the stand-in issued reaches an MCP message or the runner's output.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitResult

from tests._fixtures.dev_server import DevServer

pytestmark = pytest.mark.services  # the runner starts the Firestore emulator and a function server

DEV_USER = "dev-user"  # seeded by the runner (mcp-auth dev --user)
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


class Browser:
    """Follows a connect link as a person would: the function's page and its button, the stand-in's consent
    page and its Authorize button (as ``login``), the redirects back to the function's callback."""

    def __init__(self, login: str | None = None) -> None:
        self.login = login
        self.asked: list[Any] = []
        self.visited: list[str] = []
        self.done: list[str] = []

    async def connect(self, url: str) -> None:
        async def hop(response: httpx.Response) -> None:
            self.visited.append(f"{response.request.method} {urlsplit(str(response.request.url)).path}")

        async with httpx.AsyncClient(follow_redirects=True, timeout=30, event_hooks={"response": [hop]}) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            assert "Continue to GitHub" in page.text
            consent = await browser.post(url.split("?", 1)[0], data=dict(_HIDDEN.findall(page.text)))
            assert consent.status_code == 200 and "Authorize" in consent.text, consent.text[:500]
            assert "stands in for GitHub" in consent.text
            form = dict(_HIDDEN.findall(consent.text))
            login = self.login or re.search(r'name="login" value="([^"]*)"', consent.text).group(1)  # type: ignore[union-attr]
            done = await browser.post(
                str(consent.url).split("?", 1)[0], data={**form, "login": login, "decision": "authorize"}
            )
        assert done.status_code == 200, done.text
        self.done.append(done.text)

    async def elicit(self, context: Any, params: Any) -> ElicitResult:
        self.asked.append(params)
        assert params.mode == "url"
        await self.connect(params.url)
        return ElicitResult(action="accept")


@asynccontextmanager
async def client_for(url: str, token: str, *, mode: str, browser: Browser) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=90)) as http:
        async with Client(
            streamable_http_client(url, http_client=http),
            mode=mode,  # type: ignore[arg-type]
            raise_exceptions=True,
            elicitation_callback=browser.elicit,
        ) as client:
            yield client


def _printed_token(banner: str) -> str:
    return next(line.split(": ", 1)[1] for line in banner.splitlines() if line.startswith("Bearer token:")).strip()


def _names(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [repo["full_name"] for repo in result.structured_content["repositories"]]


def _output_so_far(server: DevServer) -> str:
    """The runner's output up to now (its own lines and the function's log lines)."""
    try:
        server.output.until(lambda line: False, timeout=2)
    except AssertionError:  # no such line: everything written so far was read
        pass
    return "".join(server.output.seen)


def _issued_tokens(text: str) -> list[str]:
    return re.findall(r"gh[ur]_[A-Za-z0-9_-]{20,}", text)


async def test_the_seeded_user_connects_github_from_a_tool_call_and_it_completes(shared_dev_server: DevServer):
    banner = shared_dev_server.banner
    assert "Connected accounts: GitHub is a local stand-in at http://127.0.0.1:" in banner
    assert f"{DEV_USER} has the github toolset: call list_my_repositories" in banner
    settings = shared_dev_server.settings()
    standin = settings["GITHUB_API_URL"]
    assert json.loads(settings["MCP_AUTH_CONNECTIONS"])[0]["authorize_url"] == f"{standin}/login/oauth/authorize"
    browser = Browser()

    async with client_for(shared_dev_server.url, _printed_token(banner), mode="legacy", browser=browser) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        repos = await client.call_tool("list_my_repositories", {})  # the same call continues once connected
        issue = await client.call_tool(
            "create_issue", {"repository": "octocat/hello-world", "title": "Made from make dev", "body": "Hi"}
        )
        found = await client.call_tool("search_my_issues", {})

    assert {"list_my_repositories", "create_issue", "search_my_issues", "whoami"} <= tools
    assert _names(repos) == ["octocat/hello-world", "octocat/notes"]
    (asked,) = browser.asked  # asked once: the later calls found the connection in the vault
    assert asked.url.startswith(f"{shared_dev_server.url.removesuffix('/mcp')}/connect/github?link=")
    assert "GitHub" in asked.message
    assert browser.visited == [
        "GET /connect/github",
        "POST /connect/github",
        "GET /login/oauth/authorize",  # the stand-in's consent page
        "POST /login/oauth/authorize",
        "GET /connect/github/callback",
    ]
    assert "GitHub is connected" in browser.done[0]
    assert not issue.is_error and issue.structured_content["number"] == 1
    assert issue.structured_content["html_url"] == f"{standin}/octocat/hello-world/issues/1"
    assert [i["title"] for i in found.structured_content["issues"]] == ["Made from make dev"]

    listed = shared_dev_server.shell(f"mcp-auth connections list --user {DEV_USER}")
    assert listed.returncode == 0, listed.stderr
    assert "github" in listed.stdout
    shown = json.dumps([r.model_dump(mode="json") for r in (repos, issue, found)]) + listed.stdout + listed.stderr
    assert _issued_tokens(shown) == []
    assert _issued_tokens(_output_so_far(shared_dev_server)) == []


async def test_a_new_user_on_a_2026_client_connects_and_calls_again(shared_dev_server: DevServer):
    created = shared_dev_server.shell("mcp-auth users create bob --toolsets github --scopes mcp:tools")
    assert created.returncode == 0, created.stderr
    minted = shared_dev_server.shell("mcp-auth token mint --user bob --ttl 600")
    assert minted.returncode == 0, minted.stderr
    browser = Browser(login="bob-on-github")

    async with client_for(shared_dev_server.url, minted.stdout.strip(), mode="auto", browser=browser) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("list_my_repositories", {})
        assert raised.value.error.code == URL_ELICITATION_REQUIRED
        (asked,) = UrlElicitationRequiredError.from_error(raised.value.error).elicitations
        await browser.connect(asked.url)
        repos = await client.call_tool("list_my_repositories", {"limit": 1})

    assert _names(repos) == ["bob-on-github/hello-world"]
    assert "GitHub is connected" in browser.done[0]
