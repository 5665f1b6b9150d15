"""The GitHub toolset with no platform: connected accounts end to end, through the round-robin proxy over
two instances. A user who has not connected GitHub calls a GitHub tool; a client that declared URL
elicitation sends its user (a browser: httpx with cookies, following redirects between the function and
the loopback GitHub stand-in) through the connect pages, and the tool answers with the user's
repositories - in the same call for a handshake-era client (elicitation/create on the back-channel, its
answer reaching either instance), by calling again for a 2026-07-28 client (error -32042, then a retry
on either instance). A client without URL elicitation gets the connect link in a tool error. No token
reaches a log line or an MCP message.

Then the token's life: a short-lived token is refreshed by a later call, once, though both instances need
it at the same moment; a token revoked at the provider (the API answers 401) is settled before that call
answers, so the next call, on either instance, sends the user to connect again and then answers; and after
a whole flow with refreshes, no token the stand-in issued is in any Firestore document, log line or MCP
message in plain text."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
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

from mcp_auth.store.firestore import firestore_client
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import authorization
from tests.e2e.clients import MODES, Mode

REFRESH_MARGIN = 60  # seconds before expiry the vault renews a token (TokenVault's refresh_margin)


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
        self.visited: list[str] = []  # every URL the browser went to, redirects included

    async def connect(self, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(30.0)) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
            done = await browser.post(url.split("?", 1)[0], data=form)
        assert done.status_code == 200, done.text
        self.visited += [str(r.url) for r in (*page.history, page, *done.history, done)]
        self.pages.append(done.text)

    async def elicit(self, context: Any, params: Any) -> ElicitResult:
        self.asked.append(params)
        assert params.mode == "url"
        await self.connect(params.url)
        return ElicitResult(action="accept")


class _Tee(httpx2.AsyncByteStream):
    def __init__(self, stream: Any, seen: list[bytes]) -> None:
        self._stream, self._seen = stream, seen

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._seen.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class Recording(httpx2.AsyncBaseTransport):
    """The client's HTTP transport, keeping every MCP message it sends and every byte it receives."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.seen: list[bytes] = []

    async def handle_async_request(self, request: Any) -> Any:
        self.seen.append(await request.aread())
        response = await self._inner.handle_async_request(request)
        response.stream = _Tee(response.stream, self.seen)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def text(self) -> str:
        return b"".join(self.seen).decode(errors="replace")


@asynccontextmanager
async def client_for(
    url: str, token: str, *, mode: Mode, browser: Browser | None, record: Recording | None = None
) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(
        headers=authorization(token), timeout=httpx2.Timeout(30, read=90), transport=record
    ) as http:
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


async def _call_connecting(client: Client, browser: Browser, mode: Mode, **arguments: Any) -> Any:
    """list_my_repositories for a user who must connect first: in the same call (legacy, with the
    elicitation on the back-channel), or by calling again after error -32042 (2026-07-28)."""
    if mode == "legacy":
        return await client.call_tool("list_my_repositories", arguments)
    with pytest.raises(MCPError) as raised:
        await client.call_tool("list_my_repositories", arguments)
    assert raised.value.error.code == URL_ELICITATION_REQUIRED
    (asked,) = UrlElicitationRequiredError.from_error(raised.value.error).elicitations
    browser.asked.append(asked)
    await browser.connect(asked.url)
    return await client.call_tool("list_my_repositories", arguments)


def _repositories(result: Any) -> list[str]:
    assert not result.is_error, _text(result)
    return [r["full_name"] for r in result.structured_content["repositories"]]


async def _github_user(github: Any, leak_watch: Any, make_user: Any, mint: Any, proxy: Any) -> tuple[str, str, str]:
    """A GitHub account at the stand-in (the browser signs in as it), a user with the github toolset and
    their bearer token: (login, uid, jwt)."""
    login = f"gh-{secrets.token_hex(4)}"
    github.browser_login = login
    github.add_user(login, leak_watch.secret(secrets.token_urlsafe(16)), ["alpha"])
    user = await make_user(toolsets=("github",))
    return login, user.uid, leak_watch.secret(mint(user.uid, audience=f"{proxy.url}/mcp"))


async def _connection(uid: str) -> dict[str, Any] | None:
    snap = await firestore_client(project=TEST_PROJECT).document(f"users/{uid}/connections/github").get()
    return snap.to_dict() if snap.exists else None


async def _every_document() -> dict[str, str]:
    """Every document in the emulator's database, each as JSON, by path: every collection and every
    subcollection (users/{uid}/connections, connect_links, …)."""
    db = firestore_client(project=TEST_PROJECT)
    found: dict[str, str] = {}
    async for collection in db.collections():
        async for snap in collection.recursive().stream():
            found[snap.reference.path] = json.dumps(snap.to_dict(), default=str)
    return found


async def test_a_short_lived_token_is_refreshed_once_by_a_later_call_on_either_instance(
    pair, fake_github_oauth, make_user, mint, leak_watch
):
    _, _, proxy = pair
    github = fake_github_oauth
    github.token_ttl = REFRESH_MARGIN + 10  # usable for 10 s, then renewed before use
    login, uid, jwt = await _github_user(github, leak_watch, make_user, mint, proxy)
    browser = Browser()
    async with client_for(f"{proxy.url}/mcp", jwt, mode="legacy", browser=browser) as client:
        assert _repositories(await _call_connecting(client, browser, "legacy")) == [f"{login}/alpha"]
        first_access = github.issued[0]
        assert github.refreshes == 0 and github.used[-1] == first_access

        await asyncio.sleep(max(0.0, github.expiry[first_access] - REFRESH_MARGIN + 1 - time.time()))
        used_before = len(github.used)
        both = await asyncio.gather(*(client.call_tool("list_my_repositories", {}) for _ in range(2)))

    assert [_repositories(r) for r in both] == [[f"{login}/alpha"]] * 2  # the calls answered, on both instances
    assert github.refreshes == 1  # one refresh, though both instances needed it (the lease in Firestore)
    new_access = github.issued[2]
    assert github.used[used_before:] == [new_access, new_access]  # the new token, not the old one
    assert [r["grant_type"] for r in github.token_requests] == ["authorization_code", "refresh_token"]
    assert len(browser.asked) == 1  # no new consent
    stored = await _connection(uid)
    assert stored is not None and stored["expires_at"] > github.expiry[first_access]
    assert leak_watch.leaks() == []


@pytest.mark.parametrize(("mode", "elicits"), [("auto", True), ("legacy", True), ("auto", False)])
async def test_a_token_revoked_at_the_provider_sends_the_user_to_connect_again_then_the_tool_answers(
    pair, fake_github_oauth, make_user, mint, leak_watch, mode, elicits
):
    _, _, proxy = pair
    github = fake_github_oauth
    login, uid, jwt = await _github_user(github, leak_watch, make_user, mint, proxy)
    browser = Browser()
    await browser.connect(await _link_from_error(proxy, jwt, mode))  # connected before, as the link allows
    async with client_for(f"{proxy.url}/mcp", jwt, mode=mode, browser=browser if elicits else None) as client:
        assert _repositories(await client.call_tool("list_my_repositories", {})) == [f"{login}/alpha"]

        github.revoke_all(login)  # the user revoked the app on github.com: the API answers 401
        rejected = await client.call_tool("list_my_repositories", {})
        assert rejected.is_error and "GitHub rejected your connection" in _text(rejected)
        # settled before that call answered: the refresh was refused, so the connection is gone everywhere
        assert [r["grant_type"] for r in github.token_requests][-1] == "refresh_token"
        assert await _connection(uid) is None

        if elicits:  # the next call, on the other instance, asks for the connect URL again
            answered = await _call_connecting(client, browser, mode)
            assert len(browser.asked) == 1
        else:  # the next call's tool error carries a new link; the user opens it and asks again
            await browser.connect(await _link_from_error(proxy, jwt, mode, client=client))
            answered = await client.call_tool("list_my_repositories", {})

    assert _repositories(answered) == [f"{login}/alpha"]
    assert github.used[-1] == github.issued[-2]  # the token of the new connection
    assert len(browser.pages) == 2 and all("GitHub is connected" in page for page in browser.pages)
    assert github.refreshes == 0
    assert leak_watch.leaks() == []


async def test_an_access_token_the_api_refuses_is_refreshed_before_the_call_answers_and_used_by_either_instance(
    pair, fake_github_oauth, make_user, mint, leak_watch
):
    a, b, proxy = pair
    github = fake_github_oauth
    login, uid, jwt = await _github_user(github, leak_watch, make_user, mint, proxy)
    browser = Browser()
    async with client_for(f"{proxy.url}/mcp", jwt, mode="legacy", browser=browser) as client:
        assert _repositories(await _call_connecting(client, browser, "legacy")) == [f"{login}/alpha"]
        refused = github.issued[0]
        github.forced.append((401, {"message": "Bad credentials"}))  # the API refuses the token once
        rejected = await client.call_tool("list_my_repositories", {})
        assert rejected.is_error and "GitHub rejected your connection" in _text(rejected)
        assert github.refreshes == 1  # before the answer: the grant still holds, so a refresh renews it
        hits = dict(proxy.hits)
        answers = [await client.call_tool("list_my_repositories", {}) for _ in range(2)]

    assert [_repositories(r) for r in answers] == [[f"{login}/alpha"]] * 2
    assert proxy.hits[a.base] > hits[a.base] and proxy.hits[b.base] > hits[b.base]  # both instances answered
    assert github.used[-2:] == [github.issued[2]] * 2 and refused not in github.used[-2:]
    assert github.refreshes == 1 and len(browser.asked) == 1  # no reconnection was needed
    assert leak_watch.leaks() == []


async def _link_from_error(proxy: Any, jwt: str, mode: Mode, *, client: Client | None = None) -> str:
    """The connect link in the tool error a client without URL elicitation gets."""

    async def ask(c: Client) -> str:
        result = await c.call_tool("list_my_repositories", {})
        assert result.is_error, _text(result)
        found = re.search(r"(http://\S+/connect/github\?link=[A-Za-z0-9_.%-]+)", _text(result))
        assert found, _text(result)
        return found.group(1)

    if client is not None:
        return await ask(client)
    async with client_for(f"{proxy.url}/mcp", jwt, mode=mode, browser=None) as fresh:
        return await ask(fresh)


@pytest.mark.parametrize("mode", MODES)
async def test_no_issued_token_is_stored_logged_or_sent_in_plain_text(
    pair, fake_github_oauth, make_user, mint, leak_watch, mode
):
    _, _, proxy = pair
    github = fake_github_oauth
    github.token_ttl = REFRESH_MARGIN // 2  # shorter than the margin: every use refreshes (and rotates) first
    login, uid, jwt = await _github_user(github, leak_watch, make_user, mint, proxy)
    browser, record = Browser(), Recording()
    async with client_for(f"{proxy.url}/mcp", jwt, mode=mode, browser=browser, record=record) as client:
        answers = [await _call_connecting(client, browser, mode)]
        answers += [await client.call_tool("list_my_repositories", {"limit": 1}) for _ in range(2)]
    assert all(_repositories(a) == [f"{login}/alpha"] for a in answers)
    assert github.refreshes >= 3 and len(github.issued) >= 8  # access and refresh tokens, rotated

    documents = await _every_document()
    mine = {path: text for path, text in documents.items() if path.startswith(f"users/{uid}/")}
    assert f"users/{uid}/connections/github" in mine and any("/connect_links/" in path for path in mine)
    assert json.loads(mine[f"users/{uid}/connections/github"])["sealed"].startswith("v1.")  # ciphertext only
    everything = "\n".join(f"{path} {text}" for path, text in documents.items())
    assert not [token for token in github.issued if token in everything]
    assert not [token for token in github.issued if token in record.text()]  # requests and answers, SSE too
    assert len(browser.visited) >= 4  # the connect page, GitHub's consent, the callback: no token in any URL
    assert not [token for token in github.issued if any(token in url for url in browser.visited)]
    assert "list_my_repositories" in record.text() and f"{login}/alpha" in record.text()
    assert all(token in leak_watch.values for token in github.issued)
    assert leak_watch.leaks() == []
