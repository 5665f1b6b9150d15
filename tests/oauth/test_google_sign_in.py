"""A deployment whose upstream is Google, signing in end to end: oidc-provider on loopback plays
Google (its ID tokens carry ``hd`` for "Workspace" accounts), the authorization server runs in
process on the Firestore emulator. A personal account with an address in the allowed domain is
shown a page that says why it is refused, whose link returns to the client with access_denied; a
Workspace account of that domain gets a code for its own user."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest
from starlette.types import Receive, Scope, Send

from mcp_auth.devtools.emulator import free_port
from mcp_auth.oauth.keys import SigningKeys
from mcp_auth.oauth.server import AuthorizationServer
from mcp_auth.oauth.signin import SignInPolicy
from mcp_auth.oauth.store import OAuthStore
from mcp_auth.oauth.upstream import Upstream
from mcp_auth.store.identities import IdentityLinks, derived_uid
from mcp_auth.store.users import UserRecord, UserRepository
from tests._fixtures.oauth import UPSTREAM_CLIENT, signing_key, upstream_client
from tests.oauth.pages import is_refusal, page_text, refusal_link
from tests.oidc.helper import OidcServer
from tests.oidc.protocol import same_endpoint, with_login_hint
from tests.store.warmup import warm

REDIRECT_URI = "http://localhost:3030/callback"


@dataclass
class GoogleDeployment:
    origin: str
    idp: OidcServer
    browser: httpx.AsyncClient
    consent_pages: list[str] = field(default_factory=list)
    refusal_pages: list[str] = field(default_factory=list)

    async def sign_in(self, account: str) -> tuple[dict[str, str], str]:
        """A browser's way from /oauth/authorize, through the upstream sign-in as ``account`` and our
        consent page (allowed), to the client's redirect URI: (its query, the PKCE verifier)."""
        registered = await self.browser.post(
            f"{self.origin}/oauth/register", json={"redirect_uris": [REDIRECT_URI], "client_name": "t"}
        )
        assert registered.status_code == 201, registered.text
        verifier = secrets.token_urlsafe(40)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        url = f"{self.origin}/oauth/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": registered.json()["client_id"],
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "s1",
            }
        )
        for _ in range(20):
            if same_endpoint(url, self.idp.authorization_endpoint):
                url = with_login_hint(url, account)
            r = await self.browser.get(url)
            if r.status_code == 200 and 'name="approval"' in r.text:
                approval = re.search(r'name="approval" value="([^"]+)"', r.text)
                assert approval is not None
                self.consent_pages.append(r.text)
                r = await self.browser.post(
                    f"{self.origin}/oauth/consent", data={"approval": approval.group(1), "decision": "allow"}
                )
            if is_refusal(r):  # the way back is the page's link
                self.refusal_pages.append(r.text)
                url = refusal_link(r.text)
            else:
                assert r.is_redirect, (url, r.status_code, r.text[:300])
                url = urljoin(str(r.url), r.headers["location"])
            if same_endpoint(url, REDIRECT_URI):
                query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
                query["client_id"] = registered.json()["client_id"]
                return query, verifier
        raise AssertionError("no redirect to the client")

    async def user_of(self, query: dict[str, str], verifier: str) -> str:
        """Redeem the code; the user id our access token names."""
        r = await self.browser.post(
            f"{self.origin}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "code_verifier": verifier,
                "client_id": query["client_id"],
                "redirect_uri": REDIRECT_URI,
            },
        )
        assert r.status_code == 200, r.text
        return str(jwt.decode(r.json()["access_token"], options={"verify_signature": False})["sub"])


@pytest.fixture
async def google(oidc_server_factory, user_repo: UserRepository) -> AsyncIterator[GoogleDeployment]:
    await warm(user_repo)
    origin = f"http://127.0.0.1:{free_port()}"  # served in process through a mounted ASGI transport
    upstream_secret = secrets.token_urlsafe(32)
    tag = uuid.uuid4().hex[:8]
    idp = oidc_server_factory(
        clients=[upstream_client(upstream_secret, origin, refresh=False)],
        accounts={
            "worker": {"email": f"worker-{tag}@example.com", "email_verified": True, "hd": "example.com"},
            "personal": {"email": f"worker-{tag}@example.com", "email_verified": True},  # no hd: not Workspace
            "partner": {"email": f"partner-{tag}@example.com", "email_verified": True, "hd": "partner.example"},
        },
    )
    pem = signing_key()
    client = user_repo._client

    async def keys() -> list[bytes]:
        return [pem]

    async def client_secret() -> str:
        return upstream_secret

    async with httpx.AsyncClient(timeout=10) as http:
        server = AuthorizationServer(
            resource=f"{origin}/mcp",
            keys=SigningKeys(keys),
            store=OAuthStore(client),
            upstream=Upstream(
                issuer=idp.issuer, client_id=UPSTREAM_CLIENT, client_secret=client_secret, http=lambda: http
            ),
            policy=SignInPolicy(issuer=idp.issuer, google=True, links=IdentityLinks(client), domains=["example.com"]),
            http=lambda: http,
            allow_loopback=True,
            # every test's client is 127.0.0.1, whose per-minute windows other tests in this process share
            # (the limits have their own tests in test_server.py)
            authorize_rate=10_000,
            token_rate=10_000,
        )
        routes = server.routes

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await routes[scope["path"]](scope, receive, send)

        async with httpx.AsyncClient(mounts={origin: httpx.ASGITransport(app=app)}, timeout=20) as browser:
            yield GoogleDeployment(origin=origin, idp=idp, browser=browser)


async def test_a_personal_google_account_with_a_work_address_is_told_why_then_sent_back_with_access_denied(
    google, user_repo
):
    email = google.idp.settings.accounts["personal"]["email"]
    await user_repo.create(UserRecord(uid=email, toolsets=frozenset({"notes"})))  # the employee's old record
    query, _ = await google.sign_in("personal")
    (page,) = google.refusal_pages
    text = page_text(page)
    assert f"You signed in to Google as {email}, but this server does not accept that account." in text
    assert "is a personal Google account, not one managed by the Google Workspace of example.com" in text
    assert "sign in with your example.com work account" in text and "Return to “t”" in text
    assert query["error"] == "access_denied" and "code" not in query and query["state"] == "s1"
    assert query["iss"] == google.origin
    assert "personal Google account" in query["error_description"] and email in query["error_description"]
    assert await IdentityLinks(user_repo._client).owner(email) is None


async def test_a_workspace_account_of_the_allowed_domain_signs_in_as_its_own_user(google):
    query, verifier = await google.sign_in("worker")
    assert "code" in query, query
    assert await google.user_of(query, verifier) == derived_uid(google.idp.issuer, "worker")
    (page,) = google.consent_pages
    assert "@example.com</strong>" in page and derived_uid(google.idp.issuer, "worker") not in page  # email, not id


async def test_a_workspace_account_of_another_domain_is_told_which_workspace_manages_it(google):
    query, _ = await google.sign_in("partner")
    assert query["error"] == "access_denied" and query["state"] == "s1"
    assert "managed by the Google Workspace of partner.example" in page_text(google.refusal_pages[0])
    assert "managed by the Google Workspace of partner.example" in query["error_description"]


async def test_a_person_who_cancels_at_the_provider_is_sent_back_at_once_with_access_denied(google):
    """Nothing to explain: no refusal page, the client hears ``access_denied`` straight away."""
    registered = await google.browser.post(
        f"{google.origin}/oauth/register", json={"redirect_uris": [REDIRECT_URI], "client_name": "t"}
    )
    started = await google.browser.get(
        f"{google.origin}/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": registered.json()["client_id"],
                "redirect_uri": REDIRECT_URI,
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
                "state": "s1",
            }
        )
    )
    upstream_state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    cancelled = await google.browser.get(
        f"{google.origin}/oauth/callback", params={"state": upstream_state, "error": "access_denied"}
    )
    assert cancelled.status_code == 302 and not is_refusal(cancelled)
    query = parse_qs(urlsplit(cancelled.headers["location"]).query)
    assert cancelled.headers["location"].startswith(REDIRECT_URI)
    assert query["error"] == ["access_denied"] and query["state"] == ["s1"] and "code" not in query
    assert google.refusal_pages == []
