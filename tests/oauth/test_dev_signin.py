"""The local development sign-in (MCP_AUTH_OAUTH_DEV_SIGN_IN) through the whole app, in process, on the
Firestore emulator: a browser goes from /oauth/authorize to the page, enters a user id, and reaches the
consent page and a code for that user; the page refuses what a person or an attacker could send it with
a clear 4xx (hypothesis-generated forms and queries included), and the settings refuse it on Cloud Run."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.oauth.dev_signin import MAX_USER, PATH
from mcp_auth.oauth.server import CONSENT_BYTES
from mcp_auth.store.users import UserRecord, UserRepository
from tests._fixtures.oauth import OAuthApp

REDIRECT_URI = "http://localhost:3030/callback"
FORM = re.compile(r'name="form" value="([^"]+)"')


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


DEV = {
    "MCP_AUTH_OAUTH_DEV_SIGN_IN": "true",
    "MCP_AUTH_OAUTH_SIGNING_KEY": _pem(),
    "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": None,
    "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": None,
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": None,
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": None,
    "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": None,
    "MCP_AUTH_OAUTH_ALLOW_LOOPBACK": None,
    "MCP_AUTH_OAUTH_AUTHORIZE_RATE": "10000",
    "MCP_AUTH_OAUTH_REGISTRATION_RATE": "1000",
}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def dev_app(oauth_app: Callable[..., OAuthApp]) -> OAuthApp:
    return oauth_app(**DEV)


@pytest.fixture
async def person(user_repo: UserRepository) -> str:
    uid = f"dev-{secrets.token_hex(4)}"
    await user_repo.create(UserRecord(uid=uid, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"})))
    return uid


async def _open_page(browser: httpx.AsyncClient) -> tuple[httpx.Response, str]:
    """Register a client and follow /oauth/authorize to the sign-in page: (the page, the PKCE verifier)."""
    registered = await browser.post("/oauth/register", json={"redirect_uris": [REDIRECT_URI], "client_name": "t"})
    assert registered.status_code == 201, registered.text
    verifier = secrets.token_urlsafe(40)
    params = {
        "response_type": "code",
        "client_id": registered.json()["client_id"],
        "redirect_uri": REDIRECT_URI,
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
        "state": "s1",
    }
    r = await browser.get("/oauth/authorize", params=params)
    assert r.status_code == 302, r.text
    assert urlsplit(r.headers["location"]).path == PATH
    page = await browser.get(r.headers["location"])
    assert page.status_code == 200, page.text
    browser.headers["X-Client-Id"] = registered.json()["client_id"]  # remembered for the token request
    return page, verifier


def _form_token(page: httpx.Response) -> str:
    found = FORM.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def test_a_user_id_entered_on_the_page_signs_in_through_consent_to_a_token(dev_app, person):
    async with dev_app.client() as browser:
        page, verifier = await _open_page(browser)
        assert "user id" in page.text.lower() and 'name="user"' in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        answered = await browser.post(PATH, data={"form": _form_token(page), "user": person})
        assert answered.status_code == 303, answered.text
        consent = await browser.get(answered.headers["location"])  # the callback: state cookie, code, consent
        assert consent.status_code == 200 and 'name="approval"' in consent.text, consent.text[:300]
        assert person in consent.text
        # the consent form ends in a redirect to the client: Chrome would check it against a form-action
        policy = consent.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "form-action" not in policy
        approval = re.search(r'name="approval" value="([^"]+)"', consent.text)
        assert approval is not None
        back = await browser.post("/oauth/consent", data={"approval": approval.group(1), "decision": "allow"})
        assert back.status_code == 302
        query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
        assert query["state"] == "s1"
        token = await browser.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "code_verifier": verifier,
                "client_id": browser.headers["X-Client-Id"],
                "redirect_uri": REDIRECT_URI,
            },
        )
    assert token.status_code == 200, token.text
    assert jwt.decode(token.json()["access_token"], options={"verify_signature": False})["sub"] == person


async def test_the_form_token_works_once_and_the_code_only_with_the_browsers_state(dev_app, person):
    async with dev_app.client() as browser:
        page, _ = await _open_page(browser)
        form = _form_token(page)
        first = await browser.post(PATH, data={"form": form, "user": person})
        again = await browser.post(PATH, data={"form": form, "user": person})
        assert first.status_code == 303
        assert again.status_code == 400 and "already answered" in again.json()["error_description"]
    # another browser (no state cookie) cannot use the answer: the callback refuses it, as on a deployment
    async with dev_app.client() as other:
        stolen = await other.get(urljoin(dev_app.base, first.headers["location"]))
    assert stolen.status_code == 400 and "not started in this browser" in stolen.json()["error_description"]


@pytest.mark.parametrize(
    ("user", "status", "shown"),
    [
        ("", 400, "Enter a user id"),
        ("a/b", 400, "A user id is 1-256 characters"),
        ("__x__", 400, "A user id is 1-256 characters"),
        ("x" * (MAX_USER + 1), 400, f"at most {MAX_USER} characters"),
        ("<script>alert(1)</script>", 400, "A user id is"),
        ("nobody-has-this-id", 403, "no user record for 'nobody-has-this-id'"),
    ],
)
async def test_a_bad_or_unknown_user_id_shows_the_page_again_with_the_reason(dev_app, user, status, shown):
    async with dev_app.client() as browser:
        page, _ = await _open_page(browser)
        form = _form_token(page)
        r = await browser.post(PATH, data={"form": form, "user": user})
        assert r.status_code == status, r.text
        assert shown in html.unescape(r.text) and 'role="alert"' in r.text
        assert "<script>" not in r.text
        assert _form_token(r) == form  # not used up: the person corrects the id and sends the form again


@pytest.mark.parametrize("allowed", [None, "https://app.example"])
async def test_an_answer_from_another_site_is_refused(oauth_app, person, allowed):
    """By the edge, or, from an origin the deployment lets browsers call it from, by the page itself."""
    dev_app = oauth_app(**DEV, MCP_AUTH_ALLOWED_ORIGINS=allowed)
    async with dev_app.client() as browser:
        page, _ = await _open_page(browser)
        r = await browser.post(
            PATH, data={"form": _form_token(page), "user": person}, headers={"Origin": "https://app.example"}
        )
    assert r.status_code == 403, r.text
    assert ("another site" if allowed else "Origin is not allowed") in r.json()["error_description"]


async def test_the_page_takes_one_state_and_answers_other_methods_with_405(dev_app):
    async with dev_app.client() as client:
        assert (await client.get(PATH)).status_code == 400
        assert (await client.get(PATH, params={"state": "short"})).status_code == 400
        two = f"{PATH}?state={'a' * 43}&state={'b' * 43}"
        assert (await client.get(two)).status_code == 400
        put = await client.put(PATH, content=b"")
        assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
        huge = await client.post(PATH, content=b"user=" + b"a" * (CONSENT_BYTES + 1))
        assert huge.status_code == 413


_text = st.text(max_size=300) | st.sampled_from(["", "a" * 43, "x" * 5000, "\x00", "%00", "é" * 50, "__a__"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.lists(st.tuples(st.sampled_from(["form", "user", "state", "x", ""]), _text), max_size=6),
    raw=st.binary(max_size=600),
    use_raw=st.booleans(),
    method=st.sampled_from(["GET", "POST", "HEAD", "DELETE"]),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""]),
)
async def test_hostile_queries_and_forms_get_a_4xx_never_a_5xx(dev_app, fields, raw, use_raw, method, content_type):
    async with dev_app.client() as client:
        if method in ("GET", "HEAD"):
            r = await client.request(method, PATH, params=fields)
        else:
            body = raw if use_raw else httpx.QueryParams(fields).__str__().encode()
            r = await client.request(method, PATH, content=body, headers={"Content-Type": content_type})
    assert r.status_code in {200, 400, 403, 405, 413}, (r.status_code, r.text[:300])
    assert r.status_code != 200 or method in ("GET", "HEAD")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"K_SERVICE": "mcp"}, "MCP_AUTH_OAUTH_DEV_SIGN_IN is for local development only"),
        (
            {
                "K_SERVICE": "mcp",
                "MCP_AUTH_OAUTH_DEV_SIGN_IN": None,
                "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": "c",
                "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": "s",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com",
            },
            "MCP_AUTH_OAUTH_SIGNING_KEY is for local development only",
        ),
        ({"MCP_AUTH_OAUTH_SIGNING_KEY": None}, "needs MCP_AUTH_OAUTH_SIGNING_KEY_SECRET"),
        (
            {"MCP_AUTH_PROVIDERS": "jwt,oauth", "MCP_AUTH_JWT_ISSUER": "https://i", "MCP_AUTH_JWT_HS256_KEY": "k" * 32},
            "names jwt before oauth",
        ),
    ],
)
def test_the_settings_refuse_dev_sign_in_on_cloud_run_and_without_a_key(env, message):
    base = {"MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp", "MCP_AUTH_PROVIDERS": "oauth", **DEV, **env}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({k: v for k, v in base.items() if v is not None})
