"""The built-in authorization server end to end: the `mcp` client against a function with
MCP_AUTH_PROVIDERS=oauth, and oidc-provider on loopback standing in for Google.

Discovery, registration (dynamic and by metadata document), PKCE, upstream sign-in, token,
tool call, refresh with rotation, reuse detection and revocation; then hostile requests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from mcp_auth.devtools.emulator import free_port
from mcp_auth.store.identities import IdentityLinks, derived_uid
from mcp_auth.store.users import UserRecord
from tests._fixtures.http import mcp_request
from tests._fixtures.oauth import UPSTREAM_CLIENT, store_secrets, upstream_client
from tests.e2e.clients import mcp_client
from tests.oauth.documents import DocumentServer, serve_documents
from tests.oauth.pages import is_refusal, page_text, refusal_link
from tests.oidc.helper import MemoryStorage, OidcServer
from tests.oidc.protocol import same_endpoint, with_login_hint

REDIRECT_URI = "http://localhost:3030/callback"


class Deployment:
    def __init__(self, url: str, idp: OidcServer, documents: DocumentServer) -> None:
        self.url, self.idp, self.documents = url, idp, documents
        self.base = url.rsplit("/", 1)[0]
        self.refusals: list[str] = []
        """The refusal pages browsed, in order (``browse`` follows their link back to the client)."""

    async def register(self, redirect_uris: list[str] | None = None) -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(
                f"{self.base}/oauth/register",
                json={"redirect_uris": redirect_uris or [REDIRECT_URI], "client_name": "t"},
            )
        assert r.status_code == 201, r.text
        return str(r.json()["client_id"])

    def authorize_url(self, client_id: str, challenge: str, *, redirect_uri: str = REDIRECT_URI, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s1",
            "resource": self.url,
            **extra,
        }
        return f"{self.base}/oauth/authorize?{urlencode(params)}"

    async def browse(self, url: str, *, account: str = "alice", decision: str = "allow") -> str:
        """What a browser does from `url`: sign in upstream as `account`, answer our consent page with
        `decision` (or, refused, follow the refusal page's link); returns the URL finally sent to
        REDIRECT_URI (not requested)."""
        async with httpx.AsyncClient(timeout=20) as browser:
            for _ in range(20):
                if same_endpoint(url, self.idp.authorization_endpoint):
                    url = with_login_hint(url, account)
                r = await browser.get(url)
                if r.status_code == 200 and 'name="approval"' in r.text:
                    approval = re.search(r'name="approval" value="([^"]+)"', r.text)
                    assert approval is not None
                    r = await browser.post(
                        f"{self.base}/oauth/consent", data={"approval": approval.group(1), "decision": decision}
                    )
                if is_refusal(r):
                    self.refusals.append(r.text)
                    url = refusal_link(r.text)
                else:
                    assert r.is_redirect, (url, r.status_code, r.text[:300])
                    url = urljoin(str(r.url), r.headers["location"])
                if same_endpoint(url, REDIRECT_URI):
                    return url
        raise AssertionError("no redirect to the client")

    async def sign_in(
        self, client_id: str, *, account: str = "alice", decision: str = "allow"
    ) -> tuple[dict[str, str], str]:
        """Front channel through the upstream sign-in and consent: (callback query, PKCE verifier)."""
        verifier = secrets.token_urlsafe(40)
        callback = await self.browse(self.authorize_url(client_id, _s256(verifier)), account=account, decision=decision)
        return {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}, verifier

    async def token(self, **form: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(f"{self.base}/oauth/token", data=form)

    async def redeem(self, client_id: str, code: str, verifier: str) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            client_id=client_id,
            redirect_uri=REDIRECT_URI,
        )

    async def refresh(self, client_id: str, refresh_token: str) -> httpx.Response:
        return await self.token(grant_type="refresh_token", refresh_token=refresh_token, client_id=client_id)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def deployment(request, oidc_server_factory, start_function, drongo_endpoint):
    """The function with the built-in authorization server; settings to change come as the fixture's
    indirect parameter (a dict of environment variables)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    upstream_secret = secrets.token_urlsafe(32)
    idp = oidc_server_factory(clients=[upstream_client(upstream_secret, f"http://127.0.0.1:{port}")])
    suffix = store_secrets(drongo_endpoint, upstream_secret=upstream_secret)
    with serve_documents() as documents:
        start_function(
            PORT=str(port),
            MCP_AUTH_RESOURCE_URL=url,
            MCP_AUTH_PROVIDERS="oauth",
            MCP_AUTH_JWT_HS256_KEY=None,
            MCP_AUTH_JWT_ISSUER=None,
            MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
            MCP_AUTH_OAUTH_UPSTREAM_ISSUER=idp.issuer,
            MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID=UPSTREAM_CLIENT,
            MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET=f"oauth-upstream-{suffix}",
            MCP_AUTH_OAUTH_SIGNING_KEY_SECRET=f"oauth-signing-{suffix}",
            MCP_AUTH_OAUTH_ALLOWED_DOMAINS="example.com",
            MCP_AUTH_OAUTH_ALLOW_LOOPBACK="true",
            MCP_AUTH_FIRST_LOGIN=None,  # the default, reject: the sign-in rules admit, and give a record
            MCP_AUTH_DEFAULT_TOOLSETS="basics",
            MCP_AUTH_DEFAULT_SCOPES="mcp:tools",
            # Every client here comes from 127.0.0.1 and the Firestore windows outlive one test's function:
            # the per-address limits have tests of their own (test_registration_is_rate_limited_per_address
            # here, the authorize and token limits in tests/oauth/test_server.py).
            **{
                "MCP_AUTH_OAUTH_REGISTRATION_RATE": "1000",
                "MCP_AUTH_OAUTH_AUTHORIZE_RATE": "10000",
                "MCP_AUTH_OAUTH_TOKEN_RATE": "10000",
                **getattr(request, "param", {}),
            },
        )
        yield Deployment(url, idp, documents)


def _sdk_oauth(
    deployment: Deployment,
    storage: MemoryStorage,
    sign_ins: list[str],
    *,
    account: str = "alice",
    client_metadata_url: str | None = None,
) -> OAuthClientProvider:
    """The MCP SDK's OAuth client for the deployment: each sign-in it starts is browsed as ``account`` and
    its final redirect appended to ``sign_ins``, whose last entry answers the SDK's callback."""

    async def redirect_handler(authorization_url: str) -> None:
        sign_ins.append(await deployment.browse(authorization_url, account=account))

    async def callback_handler() -> AuthorizationCodeResult:
        answer = {k: v[0] for k, v in parse_qs(urlsplit(sign_ins[-1]).query).items()}
        assert "error" not in answer, answer
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    return OAuthClientProvider(
        deployment.url,
        OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],
            client_name="test client",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage,
        redirect_handler,
        callback_handler,
        client_metadata_url=client_metadata_url,
    )


async def _connect_and_call(
    deployment: Deployment, storage: MemoryStorage, *, client_metadata_url: str | None = None
) -> dict[str, Any]:
    oauth = _sdk_oauth(deployment, storage, [], client_metadata_url=client_metadata_url)
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(deployment.url, http_client=http), raise_exceptions=True) as client:
            who = await client.call_tool("whoami", {})
    return dict(who.structured_content or {})


async def test_paste_the_url_sign_in_and_use_the_tools_then_refresh_rotate_and_revoke(deployment):
    storage = MemoryStorage()
    who = await _connect_and_call(deployment, storage)
    assert who["user_id"] == derived_uid(deployment.idp.issuer, "alice") and who["scopes"] == ["mcp:tools"]
    assert storage.client is not None and storage.client.client_id.startswith("mcp-")  # registered dynamically
    assert storage.tokens is not None and storage.tokens.refresh_token
    client_id, first = storage.client.client_id, storage.tokens.refresh_token

    rotated = await deployment.refresh(client_id, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    async with httpx.AsyncClient() as http:  # the refreshed access token serves tools
        r = await http.post(deployment.url, **mcp_request("tools/list", {}, token=rotated.json()["access_token"]))
    assert r.status_code == 200, r.text

    reused = await deployment.refresh(client_id, first)  # reuse of a rotated token ...
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    after = await deployment.refresh(client_id, second)  # ... revokes the whole family
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"

    query, verifier = await deployment.sign_in(client_id)
    tokens = (await deployment.redeem(client_id, query["code"], verifier)).json()
    async with httpx.AsyncClient() as http:
        revoked = await http.post(
            f"{deployment.base}/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": client_id}
        )
    assert revoked.status_code == 200
    assert (await deployment.refresh(client_id, tokens["refresh_token"])).json()["error"] == "invalid_grant"


async def test_a_handshake_era_client_steps_up_when_a_tool_needs_a_scope_its_token_lacks(deployment, user_repo):
    """The client signed in earlier for mcp:tools only; the administrator has since given the user a tool that
    needs profile:write. Its call is answered 403 insufficient_scope with the scope in the challenge, and the
    SDK's OAuth client re-authorizes for it and retries: one more sign-in, then the call succeeds."""
    idp, tag = deployment.idp, uuid.uuid4().hex[:8]
    account = f"stepper-{tag}"
    await idp.add_account(account, email=f"{account}@example.com", email_verified=True, hd="example.com")
    uid = derived_uid(idp.issuer, account)
    await user_repo.create(
        UserRecord(uid=uid, scopes=frozenset({"mcp:tools", "profile:write"}), toolsets=frozenset({"basics", "profile"}))
    )
    client_id = await deployment.register()
    verifier = secrets.token_urlsafe(40)
    narrow = deployment.authorize_url(client_id, _s256(verifier), scope="mcp:tools")
    query = {k: v[0] for k, v in parse_qs(urlsplit(await deployment.browse(narrow, account=account)).query).items()}
    issued = await deployment.redeem(client_id, query["code"], verifier)
    assert issued.status_code == 200 and issued.json()["scope"] == "mcp:tools", issued.text
    storage = MemoryStorage()
    storage.client = OAuthClientInformationFull(client_id=client_id, redirect_uris=[REDIRECT_URI])
    storage.tokens = OAuthToken.model_validate(issued.json())

    sign_ins: list[str] = []
    oauth = _sdk_oauth(deployment, storage, sign_ins, account=account)
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        transport = streamable_http_client(deployment.url, http_client=http)
        async with Client(transport, mode="legacy", raise_exceptions=True) as client:
            assert sign_ins == []  # the stored token serves what it was granted for
            who = await client.call_tool("whoami", {})
            assert who.structured_content is not None and who.structured_content["scopes"] == ["mcp:tools"]
            changed = await client.call_tool("update_settings", {"version": "any"})
    assert not changed.is_error, changed
    assert len(sign_ins) == 1  # one step-up
    assert storage.tokens is not None and set((storage.tokens.scope or "").split()) == {"mcp:tools", "profile:write"}


async def test_client_with_a_metadata_document_signs_in_without_registering(deployment):
    client_id = deployment.documents.publish(
        "/client.json",
        {
            "client_id": deployment.documents.client_id("/client.json"),
            "client_name": "CIMD client",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    storage = MemoryStorage()
    who = await _connect_and_call(deployment, storage, client_metadata_url=client_id)
    assert who["user_id"] == derived_uid(deployment.idp.issuer, "alice")
    assert storage.client is not None and storage.client.client_id == client_id


async def test_discovery_documents_point_at_this_deployment(deployment):
    async with httpx.AsyncClient() as http:
        prm = (await http.get(f"{deployment.base}/.well-known/oauth-protected-resource/mcp")).json()
        asm = (await http.get(f"{deployment.base}/.well-known/oauth-authorization-server")).json()
        oidc = (await http.get(f"{deployment.base}/.well-known/openid-configuration")).json()
        jwks = (await http.get(asm["jwks_uri"])).json()
    assert prm["authorization_servers"] == [deployment.base] == [asm["issuer"]]
    assert asm == oidc
    assert asm["code_challenge_methods_supported"] == ["S256"]
    assert asm["client_id_metadata_document_supported"] is True
    assert [k["kty"] for k in jwks["keys"]] == ["EC"] and "d" not in jwks["keys"][0]


async def test_wrong_verifier_replayed_code_and_redirect_mismatch_are_refused(deployment):
    client_id = await deployment.register()
    query, verifier = await deployment.sign_in(client_id)
    assert query["state"] == "s1" and query["iss"] == deployment.base
    wrong = await deployment.redeem(client_id, query["code"], secrets.token_urlsafe(40))
    assert wrong.status_code == 400 and "PKCE" in wrong.json()["error_description"]
    spent = await deployment.redeem(client_id, query["code"], verifier)  # the failed attempt spent the code
    assert spent.json()["error"] == "invalid_grant"

    query, verifier = await deployment.sign_in(client_id)
    other_redirect = await deployment.token(
        grant_type="authorization_code",
        code=query["code"],
        code_verifier=verifier,
        client_id=client_id,
        redirect_uri="http://localhost:9999/callback",
    )
    assert other_redirect.json()["error"] == "invalid_grant"

    query, verifier = await deployment.sign_in(client_id)
    first = await deployment.redeem(client_id, query["code"], verifier)
    assert first.status_code == 200
    replay = await deployment.redeem(client_id, query["code"], verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refresh = await deployment.refresh(client_id, first.json()["refresh_token"])  # replay revoked the grant
    assert refresh.json()["error"] == "invalid_grant"


async def test_unverified_redirects_are_never_followed(deployment):
    client_id = await deployment.register()
    async with httpx.AsyncClient() as http:
        for url in (
            deployment.authorize_url(client_id, _s256("x" * 43), redirect_uri="https://evil.example/cb"),
            deployment.authorize_url("mcp-unknown", _s256("x" * 43), redirect_uri="https://evil.example/cb"),
            deployment.authorize_url(client_id, _s256("x" * 43), redirect_uri=REDIRECT_URI + "/../evil"),
        ):
            r = await http.get(url)
            assert r.status_code == 400 and "location" not in r.headers
        for uris in (["https://evil.example/cb#x"], ["javascript:alert(1)"], ["http://evil.example/cb"]):
            r = await http.post(f"{deployment.base}/oauth/register", json={"redirect_uris": uris})
            assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri"
        r = await http.get(deployment.authorize_url(client_id, "", code_challenge_method="plain"))
        assert r.status_code == 302 and "error=invalid_request" in r.headers["location"]
        assert r.headers["location"].startswith(REDIRECT_URI)


async def test_hostile_metadata_documents_are_refused(deployment):
    docs = deployment.documents
    huge = docs.publish("/huge.json", b'{"client_id": "' + b"x" * 100_000 + b'"}')
    slow = docs.publish(
        "/slow.json", {"client_id": docs.client_id("/slow.json"), "redirect_uris": [REDIRECT_URI]}, delay=8.0
    )
    liar = docs.publish(
        "/liar.json", {"client_id": "https://elsewhere.example/c.json", "redirect_uris": [REDIRECT_URI]}
    )
    cases = {
        huge: "larger than",
        slow: "too long",
        liar: "its own URL",
        "https://10.0.0.1/client.json": "private",
        "https://169.254.169.254/latest/meta-data": "private",
    }
    async with httpx.AsyncClient(timeout=20) as http:
        for client_id, reason in cases.items():
            r = await http.get(deployment.authorize_url(client_id, _s256("x" * 43)))
            assert r.status_code == 400 and "location" not in r.headers, (client_id, r.text)
            assert reason in r.json()["error_description"], (client_id, r.text)


async def test_user_outside_the_allowed_domain_is_told_why_then_sent_back_with_access_denied(deployment):
    client_id = await deployment.register()
    query, _ = await deployment.sign_in(client_id, account="bob")
    (page,) = deployment.refusals
    text = page_text(page)
    assert "as bob@example.org, but this server does not accept that account" in text
    assert "Why: The account bob@example.org may not sign in to this server" in text and "Return to “t”" in text
    assert query["error"] == "access_denied" and "code" not in query and query["state"] == "s1"
    assert "bob@example.org" in query["error_description"]


async def _whoami(deployment: Deployment, client_id: str, account: str) -> dict[str, Any]:
    """Sign in upstream as ``account``, redeem the code and ask the server who we are."""
    query, verifier = await deployment.sign_in(client_id, account=account)
    assert "code" in query, query
    tokens = await deployment.redeem(client_id, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    async with mcp_client(deployment.url, tokens.json()["access_token"]) as client:
        who = await client.call_tool("whoami", {})
    return dict(who.structured_content or {})


async def test_users_are_their_upstream_account_not_their_email_address(deployment, user_repo):
    idp, tag = deployment.idp, uuid.uuid4().hex[:8]
    legacy = f"gina-{tag}@example.com"  # a record keyed by email, as sign-ins created them before links
    await user_repo.create(UserRecord(uid=legacy, toolsets=frozenset({"basics", "notes"})))
    await idp.add_account(f"gina-{tag}", email=legacy, email_verified=True, hd="example.com")
    await idp.add_account(f"heir-{tag}", email=legacy, email_verified=True, hd="example.com")
    client_id = await deployment.register()

    first = await _whoami(deployment, client_id, f"gina-{tag}")  # the next sign-in claims the old record
    assert first["user_id"] == legacy and first["toolsets"] == ["basics", "notes"]

    renamed = f"gina.renamed-{tag}@example.com"  # her address changes upstream: she stays the same user
    await idp.add_account(f"gina-{tag}", email=renamed, email_verified=True, hd="example.com")
    assert (await _whoami(deployment, client_id, f"gina-{tag}"))["user_id"] == legacy
    link = await IdentityLinks(user_repo._client).get(idp.issuer, f"gina-{tag}")
    assert link is not None and link.email == renamed

    heir = await _whoami(deployment, client_id, f"heir-{tag}")  # the old address, now someone else's
    assert heir["user_id"] == derived_uid(idp.issuer, f"heir-{tag}") != legacy
    assert heir["toolsets"] == ["basics"]  # a record of its own, with the defaults: none of hers


async def test_a_user_the_sign_in_rules_admit_gets_a_record_at_sign_in_and_is_served(deployment, user_repo):
    """With the default first-login policy (reject) a user admitted by the sign-in rules used to be refused
    (403 unknown_user) on the first MCP request: the rules are the admission decision, so sign-in gives the
    record, with the default toolsets and scopes."""
    idp, tag = deployment.idp, uuid.uuid4().hex[:8]
    account = f"newcomer-{tag}"
    await idp.add_account(account, email=f"{account}@example.com", email_verified=True, hd="example.com")
    uid = derived_uid(idp.issuer, account)
    client_id = await deployment.register()
    query, verifier = await deployment.sign_in(client_id, account=account)
    record = await user_repo.get(uid)  # before any MCP request
    assert record is not None and record.active
    assert (record.scopes, record.toolsets) == (frozenset({"mcp:tools"}), frozenset({"basics"}))
    tokens = await deployment.redeem(client_id, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    async with mcp_client(deployment.url, tokens.json()["access_token"], mode="legacy") as client:
        who = await client.call_tool("whoami", {})
    assert who.structured_content is not None and who.structured_content["user_id"] == uid


async def test_a_user_who_denies_consent_gets_no_code_and_an_answer_works_once(deployment):
    client_id = await deployment.register()
    query, _ = await deployment.sign_in(client_id, decision="deny")
    assert query["error"] == "access_denied" and "code" not in query and query["state"] == "s1"
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            f"{deployment.base}/oauth/consent", data={"approval": secrets.token_urlsafe(32), "decision": "allow"}
        )
    assert forged.status_code == 400 and "location" not in forged.headers


@pytest.mark.parametrize("deployment", [{"MCP_AUTH_OAUTH_REGISTRATION_RATE": None}], indirect=True)  # the default
async def test_registration_is_rate_limited_per_address(deployment):
    statuses = []
    async with httpx.AsyncClient() as http:
        for _ in range(25):  # at most two minute-windows: one of them sees more than 10
            r = await http.post(
                f"{deployment.base}/oauth/register",
                json={"redirect_uris": [REDIRECT_URI]},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
            statuses.append(r.status_code)
    assert 429 in statuses and set(statuses) <= {201, 429}
