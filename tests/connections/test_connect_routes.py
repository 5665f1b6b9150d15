"""The connect pages, in the whole app, against the loopback GitHub stand-in: a browser (an httpx client
with a cookie jar that follows redirects between the app and the stand-in) goes from the link through the
confirmation and GitHub's consent to the callback. Forwarded links, other browsers, replays, forged and
crossed values, and hostile or oversized input are refused with a page, never a 5xx."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_auth import Toolset, ToolsetFactory, tool
from mcp_auth.store.firestore import firestore_client
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.local_app import LOCAL

CALLBACK = f"{LOCAL}/connect/github/callback"


def whoami() -> str:
    """Who am I."""
    return "me"


FACTORY = ToolsetFactory([Toolset("basics", tools=[tool(whoami, scopes=["mcp:tools"])])])


@pytest.fixture
def connect_app(local_app, secret_manager, fake_github_oauth, leak_watch):
    return local_app(FACTORY, **fake_github_oauth.connections_env(secret_manager))


def browser(app, *, follow: bool = True) -> httpx.AsyncClient:
    """A browser: the app in process at its public origin, everything else (the stand-in) over loopback."""
    return httpx.AsyncClient(
        mounts={LOCAL: httpx.ASGITransport(app=app)}, follow_redirects=follow, timeout=httpx.Timeout(20.0)
    )


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


async def mint(app, user: str) -> str:
    return await app.services.connections.links.mint(base_url=LOCAL, uid=user, provider="github", call_id="call-1")


def form_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


async def confirm(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """Open the link, then press the page's button."""
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return await client.post(f"{LOCAL}/connect/github", data=form_of(page.text))


async def raw(path: str) -> dict:
    snap = await firestore_client(project=TEST_PROJECT).document(path).get()
    return snap.to_dict() or {}


async def test_a_browser_following_the_pages_connects_the_account(connect_app, fake_github_oauth, leak_watch):
    user = uid()
    url = await mint(connect_app, user)
    async with browser(connect_app) as client:
        page = await client.get(url)
        assert page.status_code == 200 and user in page.text  # the page names the user it connects to
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        # the form's answer redirects to the provider: Chrome would check that redirect against a form-action
        assert "form-action" not in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        done = await client.post(f"{LOCAL}/connect/github", data=form_of(page.text))
    assert done.status_code == 200, done.text
    assert "GitHub is connected" in done.text and "return to your client" in done.text
    hops = [str(r.url) for r in done.history]
    assert hops[0] == f"{LOCAL}/connect/github" and hops[1].startswith(fake_github_oauth.url)

    asked = fake_github_oauth.authorize_requests[-1]
    assert asked["redirect_uri"] == CALLBACK and asked["code_challenge_method"] == "S256"
    assert asked["scope"] == "repo" and asked["response_type"] == "code"
    assert urlsplit(url).query.split("=", 1)[1] not in asked["state"]  # the state is not the link

    credential = await connect_app.services.connections.vault.credential(user, "github")
    async with httpx.AsyncClient() as api:
        me = await api.get(
            f"{fake_github_oauth.url}/user", headers={"Authorization": f"Bearer {credential.access_token}"}
        )
    assert me.json()["login"] == "octocat"
    link_records = await _link_records(user)
    assert len(link_records) == 1
    (record,) = link_records
    assert record["finished_at"] and record["verifier"] is None and record["call_id"] == "call-1"
    assert len(record["browser"]) == 64  # a hash, never the cookie
    stored = json.dumps(await raw(f"users/{user}/connections/github"), default=str)
    assert credential.access_token not in stored and "sealed" in stored
    for text in (page.text, done.text, *(r.text for r in done.history)):
        assert credential.access_token not in text
    assert leak_watch.leaks() == []


async def _link_records(user: str) -> list[dict]:
    db = firestore_client(project=TEST_PROJECT)
    return [s.to_dict() async for s in db.collection(f"users/{user}/connect_links").stream()]


async def test_the_verifier_waits_sealed_beside_the_used_link(connect_app, fake_github_oauth):
    user = uid()
    async with browser(connect_app, follow=False) as client:
        started = await confirm(client, await mint(connect_app, user))
    assert started.status_code == 303
    location = started.headers["location"]
    (record,) = await _link_records(user)
    assert record["verifier"].startswith("v1.") and "finished_at" not in record
    challenge = parse_qs(urlsplit(location).query)["code_challenge"][0]
    assert challenge not in json.dumps(record, default=str)
    cookie = started.cookies.get("mcp_connect_github")
    assert cookie and cookie not in json.dumps(record, default=str)
    assert "httponly" in started.headers["set-cookie"].lower() and "secure" in started.headers["set-cookie"].lower()


async def test_a_link_works_once(connect_app):
    url = await mint(connect_app, uid())
    async with browser(connect_app) as client:
        assert (await confirm(client, url)).status_code == 200
        again = await client.get(url)
    assert again.status_code == 400 and "already used" in again.text


async def test_a_post_without_the_pages_cookie_is_refused_and_leaves_the_link_usable(connect_app):
    url = await mint(connect_app, uid())
    async with browser(connect_app) as owner:
        page = await owner.get(url)
    async with browser(connect_app) as elsewhere:  # a form auto-posted from another site: no cookie of ours
        refused = await elsewhere.post(f"{LOCAL}/connect/github", data=form_of(page.text))
        assert refused.status_code == 400 and "not opened in this browser" in refused.text
        wrong = await elsewhere.get(url)  # with a cookie, but the other page's token
        assert wrong.status_code == 200
        mixed = await elsewhere.post(f"{LOCAL}/connect/github", data=form_of(page.text))
        assert mixed.status_code == 400
    async with browser(connect_app) as owner:
        assert (await confirm(owner, url)).status_code == 200


async def test_a_cross_site_post_is_refused_at_the_edge(connect_app):
    url = await mint(connect_app, uid())
    async with browser(connect_app) as client:
        page = await client.get(url)
        refused = await client.post(
            f"{LOCAL}/connect/github", data=form_of(page.text), headers={"Origin": "https://evil.example"}
        )
    assert refused.status_code == 403


async def test_an_authorize_url_finished_in_another_browser_connects_nothing(connect_app, fake_github_oauth):
    user = uid()
    async with browser(connect_app, follow=False) as sender:
        started = await confirm(sender, await mint(connect_app, user))
    fake_github_oauth.browser_login = "victim"
    async with browser(connect_app) as victim:  # the authorize URL, forwarded: the victim consents at GitHub
        answer = await victim.get(started.headers["location"])
    assert answer.status_code == 400 and "another browser" in answer.text
    assert await connect_app.services.connections.vault.credential(user, "github") is None


async def test_a_callback_answers_once(connect_app, fake_github_oauth):
    user = uid()
    async with browser(connect_app, follow=False) as client:
        started = await confirm(client, await mint(connect_app, user))
        at_github = await client.get(started.headers["location"])
        callback = at_github.headers["location"]
        first = await client.get(callback)
        client.cookies.set("mcp_connect_github", started.cookies["mcp_connect_github"], path="/connect/github/callback")
        second = await client.get(callback)
    assert first.status_code == 200 and second.status_code == 400
    assert "already finished" in second.text


async def test_forged_crossed_and_missing_states_are_refused(connect_app, fake_github_oauth):
    user = uid()
    link = parse_qs(urlsplit(await mint(connect_app, user)).query)["link"][0]
    async with browser(connect_app, follow=False) as client:
        started = await confirm(client, await mint(connect_app, user))
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        payload, signature = state.split(".")
        for bad, code in (
            (link, "invalid"),  # a link is not a state
            (f"{payload}.{signature[:-2]}AA", "invalid"),
            (f"{payload[:-4]}.{signature}", "invalid"),
            ("", "missing"),
            ("x" * 5000, "oversized"),
        ):
            answer = await client.get(f"{CALLBACK}?{urlencode({'state': bad, 'code': 'c'})}")
            assert answer.status_code == 400, (code, answer.text)
            assert answer.headers["content-type"].startswith("text/html")
        repeated = await client.get(f"{CALLBACK}?state={state}&state={state}&code=c")
        assert repeated.status_code == 400 and "more than once" in repeated.text
    assert await connect_app.services.connections.vault.credential(user, "github") is None


async def test_a_user_who_declines_at_the_provider_is_told_nothing_was_connected(connect_app):
    user = uid()
    async with browser(connect_app, follow=False) as client:
        started = await confirm(client, await mint(connect_app, user))
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        answer = await client.get(f"{CALLBACK}?{urlencode({'state': state, 'error': 'access_denied'})}")
    assert answer.status_code == 200 and "was not connected" in answer.text and "access_denied" in answer.text
    assert await connect_app.services.connections.vault.credential(user, "github") is None


async def test_a_code_the_provider_refuses_is_a_page_not_an_error(connect_app):
    async with browser(connect_app, follow=False) as client:
        started = await confirm(client, await mint(connect_app, uid()))
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        answer = await client.get(f"{CALLBACK}?{urlencode({'state': state, 'code': 'not-issued'})}")
    assert answer.status_code == 400 and "did not accept" in answer.text


async def test_oversized_bodies_and_queries_and_other_methods_are_refused(connect_app):
    async with browser(connect_app) as client:
        big = await client.post(f"{LOCAL}/connect/github", data={"link": "x" * 5000})
        long = await client.get(f"{LOCAL}/connect/github?link={'x' * 5000}")
        put = await client.put(f"{LOCAL}/connect/github")
        posted = await client.post(CALLBACK)
        json_body = await client.post(f"{LOCAL}/connect/github", json={"link": "x"})
    assert big.status_code == 413 and long.status_code == 400
    assert put.status_code == 405 and "POST" in put.headers["allow"]
    assert posted.status_code in (405, 413) and json_body.status_code == 415


hostile = st.text(max_size=80) | st.sampled_from(("é" * 43, "\x00", "%00", "../", "a.b", "a" * 1100, "."))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(("/connect/github", "/connect/github/callback")),
    method=st.sampled_from(("GET", "POST", "HEAD")),
    params=st.lists(
        st.tuples(st.sampled_from(("link", "state", "code", "error", "confirm", "x")), hostile), max_size=5
    ),
    body=st.binary(max_size=300) | st.just(b""),
    cookie=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,\\"'), max_size=40),
)
async def test_hostile_input_is_answered_with_a_page_never_a_5xx(connect_app, path, method, params, body, cookie):
    async with browser(connect_app) as client:
        client.cookies.set("mcp_connect_confirm", cookie or "x", path="/connect/github")
        client.cookies.set("mcp_connect_github", cookie or "x", path="/connect/github/callback")
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
        content = urlencode(params).encode() + body if method == "POST" else None
        answer = await client.request(method, f"{LOCAL}{path}?{urlencode(params)}", content=content, headers=headers)
    assert answer.status_code in {400, 405, 413, 415}, answer.text


async def test_each_address_gets_its_allowance_of_the_connect_pages_then_a_429_page(
    local_app, secret_manager, fake_github_oauth
):
    app = local_app(FACTORY, MCP_AUTH_RATE_LIMIT_IP="3/hour", **fake_github_oauth.connections_env(secret_manager))
    url = await mint(app, uid())
    crowded, other = f"198.51.100.{uuid.uuid4().int % 250 + 1}", f"2001:db8:{uuid.uuid4().int % 65535:x}::7"
    async with browser(app, follow=False) as client:
        client.headers["X-Forwarded-For"] = crowded
        answers = [await client.get(url) for _ in range(2)] + [await client.get(CALLBACK)]
        refused = await client.get(url)
        refused_callback = await client.get(f"{CALLBACK}?state=a.b&code=c")
        client.headers["X-Forwarded-For"] = other  # another address (an IPv6 client's /64) has its own allowance
        elsewhere = await client.get(url)
    assert [a.status_code for a in answers] == [200, 200, 400]  # the callback without a state spends one too
    for answer in (refused, refused_callback):
        assert answer.status_code == 429, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert 1 <= int(answer.headers["retry-after"]) <= 3600
        assert "Too many requests from your network address" in answer.text and "Wait " in answer.text
        assert answer.headers["cache-control"] == "no-store"
    assert elsewhere.status_code == 200


async def test_an_address_the_instance_no_longer_remembers_is_still_limited_by_its_shared_window(connect_app):
    from mcp_auth.connections.routes import ConnectRoutes
    from mcp_auth.connections.sealing import Sealer
    from mcp_auth.ratelimit import MemoryWindows, RateLimiter
    from mcp_auth.rates import Rate
    from tests.connections.test_vault import Keys

    limiter = RateLimiter(MemoryWindows(), max_keys=4)  # a table of four addresses on this instance
    service = connect_app.services.connections
    pages = ConnectRoutes(
        vault=service.vault,
        links=service.links,
        sealer=Sealer(Keys()),
        base_url=LOCAL,
        resource=f"{LOCAL}/mcp",
        limiter=limiter,
        rate=Rate(2, 3600),
    ).routes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=pages["/connect/github"]), base_url=LOCAL) as client:

        async def get(address: str) -> int:
            return (await client.get("/connect/github", headers={"X-Forwarded-For": address})).status_code

        assert [await get("192.0.2.1") for _ in range(3)] == [400, 400, 429]  # no link: refused, but counted
        assert [await get(f"198.51.100.{i}") for i in range(20)] == [400] * 20  # pushes 192.0.2.1 out of the table
        assert await get("192.0.2.1") == 429
