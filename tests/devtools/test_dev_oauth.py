"""``mcp-auth dev`` signs a real MCP client in with OAuth, as a deployment does, from a fresh checkout.

The runner starts as a developer starts it (``shared_dev_server``: a checkout of its own, an empty
``.dev/``). The `mcp` SDK's OAuth client is given the printed URL alone: its first request is answered
401, it reads the protected-resource metadata, then the authorization server's metadata, registers,
and sends the browser (here: httpx following the redirects) to /oauth/authorize, which leads to the
local sign-in page; the browser enters the seeded user's id and allows access on the consent page; the
SDK redeems the code and lists the tools. Every URL the two metadata documents advertise answers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import httpx2
import jwt
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from mcp_auth.oauth.dev_signin import PATH as SIGN_IN_PAGE
from tests._fixtures.dev_server import DevServer
from tests.oidc.helper import MemoryStorage
from tests.oidc.protocol import same_endpoint

pytestmark = pytest.mark.services  # the runner starts the Firestore emulator and a function server

REDIRECT_URI = "http://localhost:3030/callback"
DEV_USER = "dev-user"  # seeded by the runner (mcp-auth dev --user)


async def _browse(url: str, *, user: str, visited: list[str]) -> str:
    """A browser from the authorization URL: the sign-in page as ``user``, the consent page answered
    allow; the URL finally sent to REDIRECT_URI (not requested). Each page's path goes to ``visited``."""
    async with httpx.AsyncClient(timeout=20) as browser:
        for _ in range(10):
            r = await browser.get(url)
            visited.append(urlsplit(url).path)
            if r.status_code == 200 and 'name="form"' in r.text:  # the development sign-in page
                form = re.search(r'name="form" value="([^"]+)"', r.text)
                assert form is not None
                r = await browser.post(urljoin(url, SIGN_IN_PAGE), data={"form": form.group(1), "user": user})
                visited.append(f"POST {SIGN_IN_PAGE}")
            elif r.status_code == 200 and 'name="approval"' in r.text:  # the consent page
                approval = re.search(r'name="approval" value="([^"]+)"', r.text)
                assert approval is not None
                r = await browser.post(
                    urljoin(url, "/oauth/consent"), data={"approval": approval.group(1), "decision": "allow"}
                )
                visited.append("POST /oauth/consent")
            assert r.is_redirect, (url, r.status_code, r.text[:300])
            url = urljoin(str(r.url), r.headers["location"])
            if same_endpoint(url, REDIRECT_URI):
                return url
    raise AssertionError(f"no redirect to the client: {visited}")


async def test_the_sdk_oauth_client_signs_in_on_the_dev_page_and_lists_tools(shared_dev_server: DevServer):
    assert "Sign in with OAuth" in shared_dev_server.banner and DEV_USER in shared_dev_server.banner
    storage, sign_ins, browsed, sent = MemoryStorage(), [], [], []

    async def redirect_handler(authorization_url: str) -> None:
        sign_ins.append(await _browse(authorization_url, user=DEV_USER, visited=browsed))

    async def callback_handler() -> AuthorizationCodeResult:
        answer = {k: v[0] for k, v in parse_qs(urlsplit(sign_ins[-1]).query).items()}
        assert "error" not in answer, answer
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    async def record(response: Any) -> None:
        sent.append((response.request.method, urlsplit(str(response.request.url)).path, response.status_code))

    oauth = OAuthClientProvider(
        shared_dev_server.url,
        OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],
            client_name="dev test client",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage,
        redirect_handler,
        callback_handler,
    )
    async with httpx2.AsyncClient(auth=oauth, timeout=30, event_hooks={"response": [record]}) as http:
        async with Client(streamable_http_client(shared_dev_server.url, http_client=http)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            who = await client.call_tool("whoami", {})
    assert "whoami" in tools
    assert who.structured_content is not None
    assert who.structured_content["user_id"] == DEV_USER
    assert storage.tokens is not None and storage.tokens.refresh_token
    issued = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert issued["iss"] == shared_dev_server.url.removesuffix("/mcp")  # the built-in server's, not the dev key's

    # the way there, as on a deployment: 401, both metadata documents, registration, then the token
    assert sent[0][1:] == ("/mcp", 401), sent
    paths = [path for _, path, _ in sent]
    steps = ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server", "/oauth/register"]
    found = [paths.index(step) for step in [*steps, "/oauth/token"]]
    assert found == sorted(found), sent
    assert ("POST", "/oauth/token", 200) in sent and ("POST", "/mcp", 200) in sent
    assert browsed == [
        "/oauth/authorize",
        SIGN_IN_PAGE,
        f"POST {SIGN_IN_PAGE}",
        "/oauth/callback",
        "POST /oauth/consent",
    ]
    assert storage.client is not None and storage.client.client_id.startswith("mcp-")  # registered dynamically


def _urls(document: dict[str, Any]) -> list[str]:
    found = []
    for value in document.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith(("http://", "https://")):
                found.append(item)
    return found


def test_every_url_the_metadata_advertises_answers(shared_dev_server: DevServer):
    """Each URL in the protected-resource metadata and in the authorization server's metadata answers
    something other than 404 or a 5xx. An issuer (``issuer``, ``authorization_servers``) is an identifier
    whose meaning is its discovery documents (RFC 8414 §3): those must answer 200, naming the same issuer."""
    base = shared_dev_server.url.removesuffix("/mcp")
    with httpx.Client(timeout=10) as http:
        challenge = http.post(shared_dev_server.url, json={})
        assert challenge.status_code == 401
        advertised = re.search(r'resource_metadata="([^"]+)"', challenge.headers["www-authenticate"])
        assert advertised is not None
        resource = http.get(advertised.group(1))
        assert resource.status_code == 200
        assert http.get(f"{base}/.well-known/oauth-protected-resource").json() == resource.json()
        issuers = resource.json()["authorization_servers"]
        assert issuers == [base]
        checked: dict[str, int] = {}
        for issuer in issuers:
            for well_known in ("oauth-authorization-server", "openid-configuration"):
                server = http.get(f"{issuer}/.well-known/{well_known}")
                assert server.status_code == 200 and server.json()["issuer"] == issuer
                identifiers = {issuer}
                for url in _urls(server.json()):
                    if url not in identifiers:
                        checked[url] = http.get(url).status_code
        for url in _urls(resource.json()):
            if url not in issuers:
                checked[url] = http.get(url).status_code
    assert {f"{base}/oauth/authorize", f"{base}/oauth/token", f"{base}/oauth/register", f"{base}/oauth/jwks"} <= set(
        checked
    )
    assert f"{base}/mcp" in checked  # the resource itself
    broken = {url: status for url, status in checked.items() if status == 404 or status >= 500}
    assert broken == {}, checked
