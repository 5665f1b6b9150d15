"""Each refresh asks the sign-in provider again (lib/mcp_auth/oauth/recheck.py), against real stand-ins: the
authorization server in process on the Firestore emulator, oidc-provider on loopback playing Okta (groups in
its ID tokens, changed between sign-in and refresh) and the loopback GitHub stand-in (org and team membership
changed, the app revoked, the API failing).

What the provider says now decides: a group it no longer lists loses its toolset at the refresh, an account
it no longer accepts gets ``invalid_grant`` and its sign-in is revoked, and a provider that cannot be asked
gets a 503 ``temporarily_unavailable`` whose refresh token still works on retry. What the sign-in keeps of the
provider is sealed in Firestore, bound to its user.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest
from starlette.types import Receive, Scope, Send

from mcp_auth.connections.sealing import Sealer, Unsealable
from mcp_auth.devtools.emulator import free_port
from mcp_auth.grants import Grant
from mcp_auth.oauth import recheck
from mcp_auth.oauth.github import GitHubSignIn
from mcp_auth.oauth.groups import GroupGrants
from mcp_auth.oauth.keys import SigningKeys
from mcp_auth.oauth.server import AuthorizationServer
from mcp_auth.oauth.signin import SignInPolicy, SignInRefused
from mcp_auth.oauth.store import FAMILIES, OAuthStore
from mcp_auth.oauth.upstream import SignInStep, Upstream, UpstreamUnavailable
from mcp_auth.presets import build_preset
from mcp_auth.store.identities import IdentityLinks, derived_uid
from mcp_auth.store.users import UserRepository
from tests._fixtures.oauth import UPSTREAM_CLIENT, random_64, signing_key, upstream_client
from tests._fixtures.provider_github import FakeGitHubOAuth
from tests.oauth.documents import serve_documents
from tests.oidc.protocol import same_endpoint, with_login_hint
from tests.store.warmup import warm

REDIRECT_URI = "http://localhost:3030/callback"
ORG = "acme"
CLAIMS = {"openid": ["sub"], "email": ["email", "email_verified"], "profile": ["name"], "groups": ["groups"]}


@dataclass
class Flow:
    """The in-process authorization server, the browser that signs in, and what the test inspects."""

    origin: str
    server: AuthorizationServer
    browser: httpx.AsyncClient
    sign_in_page: str
    issuer: str
    group: str
    idp: Any = None
    stand_in: Any = None
    upstream_secret: dict[str, str] | None = None

    async def sign_in(self, account: str) -> dict[str, Any]:
        """Register, sign in upstream as ``account``, consent, redeem: the token response and the client id."""
        registered = await self.browser.post(
            f"{self.origin}/oauth/register", json={"redirect_uris": [REDIRECT_URI], "client_name": "t"}
        )
        client_id = registered.json()["client_id"]
        verifier = secrets.token_urlsafe(40)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        url = f"{self.origin}/oauth/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        for _ in range(20):
            if same_endpoint(url, self.sign_in_page):
                url = with_login_hint(url, account)
            r = await self.browser.get(url)
            if r.status_code == 200 and 'name="approval"' in r.text:
                approval = re.search(r'name="approval" value="([^"]+)"', r.text)
                assert approval is not None
                r = await self.browser.post(
                    f"{self.origin}/oauth/consent", data={"approval": approval.group(1), "decision": "allow"}
                )
            assert r.is_redirect, (url, r.status_code, r.text[:300])
            url = urljoin(str(r.url), r.headers["location"])
            if url.startswith(REDIRECT_URI):
                break
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert "code" in query, query
        r = await self.browser.post(
            f"{self.origin}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "code_verifier": verifier,
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
            },
        )
        assert r.status_code == 200, r.text
        return {**r.json(), "client_id": client_id}

    async def refresh(self, tokens: dict[str, Any]) -> httpx.Response:
        return await self.browser.post(
            f"{self.origin}/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": tokens["client_id"],
            },
        )

    def uid(self, subject: str) -> str:
        return derived_uid(self.issuer, subject)

    async def family_of(self, tokens: dict[str, Any]) -> dict[str, Any]:
        grant = await self.server.store.peek_refresh_token(tokens["refresh_token"])
        assert grant is not None
        snap = await self.server.store.client.collection(FAMILIES).document(grant["family"]).get()
        return {"id": grant["family"], **(snap.to_dict() or {})}


MakeFlow = Callable[..., Awaitable[Flow]]


@pytest.fixture
async def make_flow(user_repo: UserRepository) -> AsyncIterator[MakeFlow]:
    """make_flow(step, issuer, preset, **rules): the authorization server in process with ``step`` as its
    upstream, a group mapped to the profile toolset, and a browser."""
    await warm(user_repo)
    client = user_repo._client
    pem = signing_key()

    async def keys() -> list[bytes]:
        return [pem]

    async with httpx.AsyncClient(timeout=10) as http, contextlib.AsyncExitStack() as browsers:

        async def make(
            origin: str,
            step: Callable[[httpx.AsyncClient], SignInStep],
            *,
            issuer: str,
            sign_in_page: str,
            **rules: Any,
        ) -> Flow:
            group = rules.pop("group", f"eng-{uuid.uuid4().hex[:8]}")
            grants = GroupGrants(
                configured={group: Grant(toolsets=frozenset({"profile"}))}, client=client, users=user_repo
            )
            server = AuthorizationServer(
                resource=f"{origin}/mcp",
                keys=SigningKeys(keys),
                store=OAuthStore(client),
                upstream=step(http),
                policy=SignInPolicy(
                    issuer=issuer,
                    links=IdentityLinks(client),
                    users=user_repo,
                    default_toolsets=("basics",),
                    grants=grants,
                    **rules,
                ),
                http=lambda: http,
                allow_loopback=True,
                registration_rate=10_000,  # many sign-ins a minute from the one browser
                authorize_rate=10_000,
                token_rate=10_000,
                groups=grants,
            )
            routes = server.routes

            async def app(scope: Scope, receive: Receive, send: Send) -> None:
                await routes[scope["path"]](scope, receive, send)

            browser = await browsers.enter_async_context(
                httpx.AsyncClient(  # from an address of its own: the per-address counters outlive the test
                    mounts={origin: httpx.ASGITransport(app=app, client=(f"{random_64()}::1", 50000))}, timeout=20
                )
            )
            return Flow(origin, server, browser, sign_in_page, issuer, group)

        yield make


@pytest.fixture
async def okta(oidc_server_factory, make_flow: MakeFlow) -> Flow:
    origin = f"http://127.0.0.1:{free_port()}"
    secret = secrets.token_urlsafe(32)
    idp = oidc_server_factory(
        clients=[upstream_client(secret, origin)],
        claims=CLAIMS,
        scopes=["groups"],
        rotate_refresh_tokens=True,  # as Okta does: each refresh must keep the provider's new refresh token
    )
    preset = build_preset("okta")
    holder = {"secret": secret}

    async def client_secret() -> str:
        return holder["secret"]

    def step(http: httpx.AsyncClient) -> Upstream:
        return Upstream(
            issuer=idp.issuer,
            client_id=UPSTREAM_CLIENT,
            client_secret=client_secret,
            http=lambda: http,
            scopes=" ".join(preset.scopes),
        )

    flow = await make_flow(
        origin, step, issuer=idp.issuer, sign_in_page=idp.authorization_endpoint, preset=preset, domains=["example.com"]
    )
    flow.idp, flow.upstream_secret = idp, holder
    return flow


@pytest.fixture
async def github(fake_github_oauth: FakeGitHubOAuth, make_flow: MakeFlow) -> Flow:
    origin = f"http://127.0.0.1:{free_port()}"
    stand_in = fake_github_oauth
    preset = build_preset("github", organization=ORG)

    async def client_secret() -> str:
        return stand_in.client_secret

    def step(http: httpx.AsyncClient) -> GitHubSignIn:
        return GitHubSignIn(
            base=stand_in.url,
            api=stand_in.url,
            client_id=stand_in.client_id,
            client_secret=client_secret,
            http=lambda: http,
            preset=preset,
        )

    flow = await make_flow(
        origin,
        step,
        issuer=stand_in.url,
        sign_in_page=f"{stand_in.url}/login/oauth/authorize",
        preset=preset,
        group=f"{ORG}/tooling",
    )
    flow.stand_in = stand_in
    return flow


def _member(github: Flow, **kwargs: Any) -> tuple[str, int]:
    login, user_id = f"u-{uuid.uuid4().hex[:8]}", secrets.randbelow(10**9) + 1
    kwargs.setdefault("orgs", {ORG: "active"})
    kwargs.setdefault("teams", [(ORG, "tooling")])
    github.stand_in.add_account(login, user_id=user_id, **kwargs)
    return login, user_id


# -- an OpenID provider (oidc-provider playing Okta) ------------------------------------------------------------
async def test_a_member_removed_from_a_mapped_group_upstream_loses_its_toolset_at_the_next_refresh(okta, user_repo):
    account = f"k-{uuid.uuid4().hex[:8]}"
    claims = {"email": f"{account}@example.com", "email_verified": True}
    await okta.idp.add_account(account, **claims, groups=[okta.group, "Everyone"])
    tokens = await okta.sign_in(account)
    record = await user_repo.get(okta.uid(account))
    assert record is not None and "profile" in record.toolsets

    await okta.idp.add_account(account, **claims, groups=["Everyone"])  # removed at the provider
    kept = (await okta.family_of(tokens))["upstream"]
    refreshed = await okta.refresh(tokens)
    assert refreshed.status_code == 200, refreshed.text
    assert (await okta.family_of(refreshed.json() | {"client_id": tokens["client_id"]}))["upstream"] != kept
    record = await user_repo.get(okta.uid(account))
    assert record is not None and record.groups == ("Everyone",) and "profile" not in record.toolsets
    assert "basics" in record.toolsets  # what the record grants by hand stays

    await okta.idp.add_account(account, **claims, groups=[okta.group])  # and added back: granted again
    assert (await okta.refresh(refreshed.json() | {"client_id": tokens["client_id"]})).status_code == 200
    record = await user_repo.get(okta.uid(account))
    assert record is not None and "profile" in record.toolsets


async def test_an_account_gone_at_the_provider_gets_invalid_grant_and_its_sign_in_is_revoked(okta):
    account = f"g-{uuid.uuid4().hex[:8]}"
    await okta.idp.add_account(account, email=f"{account}@example.com", email_verified=True, groups=[])
    tokens = await okta.sign_in(account)
    family = await okta.family_of(tokens)
    await okta.idp.remove_account(account)
    refused = await okta.refresh(tokens)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert "no longer accepts this sign-in" in refused.json()["error_description"]
    assert "sign in again" in refused.json()["error_description"].lower()
    after = await okta.server.store.load_family(family["id"])
    assert after is not None and after["revoked"] and "upstream" not in after  # the sealed token is dropped


async def test_an_account_the_rules_no_longer_admit_is_refused_at_the_refresh(okta):
    account = f"d-{uuid.uuid4().hex[:8]}"
    await okta.idp.add_account(account, email=f"{account}@example.com", email_verified=True)
    tokens = await okta.sign_in(account)
    await okta.idp.add_account(account, email=f"{account}@elsewhere.example", email_verified=True)
    refused = await okta.refresh(tokens)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert "may no longer sign in" in refused.json()["error_description"]


async def test_the_provider_s_refresh_token_is_kept_sealed_and_bound_to_the_user(okta):
    account = f"s-{uuid.uuid4().hex[:8]}"
    await okta.idp.add_account(account, email=f"{account}@example.com", email_verified=True)
    tokens = await okta.sign_in(account)
    family = await okta.family_of(tokens)
    sealed = family["upstream"]
    assert sealed.startswith("v1.")
    kept = json.loads(await okta.server.sealer.open(sealed, context=f"oauth-upstream|{okta.uid(account)}"))
    assert kept["kind"] == "oidc" and kept["sub"] == account and kept["refresh_token"]
    assert kept["refresh_token"] not in json.dumps(family, default=str)  # never in the clear
    with pytest.raises(recheck.Refused, match="no longer opens"):  # copied to another user, it opens for no one
        await recheck.ask_again(okta.server, okta.uid("someone-else"), sealed)


async def test_a_sign_in_that_kept_nothing_of_the_provider_cannot_be_renewed(okta):
    uid = okta.uid(f"n-{uuid.uuid4().hex[:8]}")
    family = await okta.server.store.new_family(uid, "mcp-x", 600)  # as made before the check existed
    token = secrets.token_urlsafe(32)
    await okta.server.store.save_refresh_token(
        token, {"uid": uid, "client_id": "mcp-x", "scope": "", "resource": okta.server.resource, "family": family}, 600
    )
    refused = await okta.refresh({"refresh_token": token, "client_id": "mcp-x"})
    assert refused.status_code == 400 and "kept no offline access" in refused.json()["error_description"]


async def test_an_unreachable_provider_is_retry_never_a_refusal(oidc_server_factory):
    closed = f"http://127.0.0.1:{free_port()}"
    with serve_documents() as documents:
        documents.publish(
            "/.well-known/openid-configuration",
            {
                "issuer": documents.base,
                "authorization_endpoint": f"{closed}/authorize",
                "token_endpoint": f"{closed}/token",
                "jwks_uri": f"{closed}/jwks",
            },
        )

        async def client_secret() -> str:
            return "s"

        async with httpx.AsyncClient(timeout=5) as http:
            upstream = Upstream(
                issuer=documents.base, client_id=UPSTREAM_CLIENT, client_secret=client_secret, http=lambda: http
            )
            with pytest.raises(UpstreamUnavailable, match="could not be reached"):
                await upstream.recheck({"kind": "oidc", "refresh_token": "r" * 20, "sub": "a"})
            with pytest.raises(SignInRefused, match="kept no refresh token"):
                await upstream.recheck({"kind": "github", "access_token": "t", "sub": "a"})


async def test_the_provider_refusing_this_server_s_client_is_retry_not_the_end_of_the_sign_in(okta):
    account = f"c-{uuid.uuid4().hex[:8]}"
    await okta.idp.add_account(account, email=f"{account}@example.com", email_verified=True)
    tokens = await okta.sign_in(account)
    assert okta.upstream_secret is not None
    right, okta.upstream_secret["secret"] = okta.upstream_secret["secret"], "rotated-at-the-provider"
    put_off = await okta.refresh(tokens)
    assert put_off.status_code == 503 and "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET" in put_off.text, put_off.text
    okta.upstream_secret["secret"] = right  # the deployment fixed: the same refresh token works
    assert (await okta.refresh(tokens)).status_code == 200


async def test_the_presets_ask_for_offline_access():
    assert "offline_access" in build_preset("okta").scopes and "offline_access" in build_preset("keycloak").scopes
    assert "offline_access" in build_preset("entra", tenants=("72f988bf-86f1-41af-91ab-2d7cd011db47",)).scopes
    google = build_preset("google")
    assert dict(google.authorization_params) == {"access_type": "offline", "prompt": "consent"}


# -- GitHub ---------------------------------------------------------------------------------------------------
async def test_a_github_member_removed_from_the_mapped_team_loses_its_toolset_at_the_next_refresh(github, user_repo):
    login, user_id = _member(github, teams=[(ORG, "tooling"), (ORG, "sales")])
    tokens = await github.sign_in(login)
    uid = github.uid(str(user_id))
    record = await user_repo.get(uid)
    assert record is not None and "profile" in record.toolsets
    github.stand_in.accounts[login]["teams"] = [(ORG, "sales")]
    refreshed = await github.refresh(tokens)
    assert refreshed.status_code == 200, refreshed.text
    record = await user_repo.get(uid)
    assert record is not None and record.groups == (f"{ORG}/sales",) and "profile" not in record.toolsets
    assert jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})["sub"] == uid


async def test_a_github_account_that_left_the_organization_gets_invalid_grant(github):
    login, _ = _member(github)
    tokens = await github.sign_in(login)
    github.stand_in.accounts[login]["orgs"] = {}
    refused = await github.refresh(tokens)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert f"not a member of the organization {ORG}" in refused.json()["error_description"]
    again = await github.refresh(tokens)  # the sign-in is revoked
    assert again.json()["error"] == "invalid_grant"


async def test_a_github_app_revoked_by_the_user_gets_invalid_grant(github):
    login, _ = _member(github)
    tokens = await github.sign_in(login)
    github.stand_in.revoke_all(login)
    refused = await github.refresh(tokens)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert "GitHub refused" in refused.json()["error_description"]


async def test_github_failing_is_a_retryable_503_and_the_refresh_token_still_works(github, user_repo):
    login, user_id = _member(github)
    tokens = await github.sign_in(login)
    github.stand_in.answers["/user"] = (502, b"{}")
    put_off = await github.refresh(tokens)
    assert put_off.status_code == 503 and put_off.json()["error"] == "temporarily_unavailable", put_off.text
    assert put_off.headers["retry-after"] == "30" and "retry" in put_off.json()["error_description"]
    retried = await github.refresh(tokens)  # the same refresh token: not a replay
    assert retried.status_code == 200, retried.text


async def test_an_expiring_github_token_is_refreshed_at_github_and_kept_anew(github):
    login, _ = _member(github)
    github.stand_in.token_ttl = 30  # expires within the minute: refreshed at GitHub before the check
    tokens = await github.sign_in(login)
    first = (await github.family_of(tokens))["upstream"]
    before = github.stand_in.refreshes
    refreshed = await github.refresh(tokens)
    assert refreshed.status_code == 200, refreshed.text
    assert github.stand_in.refreshes == before + 1
    assert (await github.family_of(refreshed.json() | {"client_id": tokens["client_id"]}))["upstream"] != first


async def test_github_failing_after_its_token_was_refreshed_keeps_the_new_one_for_the_retry(github):
    login, _ = _member(github)
    github.stand_in.token_ttl = 30  # refreshed at GitHub (which rotates the refresh token) before the check
    tokens = await github.sign_in(login)
    first = (await github.family_of(tokens))["upstream"]
    github.stand_in.answers["/user"] = (502, b"{}")
    put_off = await github.refresh(tokens)
    assert put_off.status_code == 503 and put_off.json()["error"] == "temporarily_unavailable", put_off.text
    assert (await github.family_of(tokens))["upstream"] != first  # GitHub's new tokens, sealed
    retried = await github.refresh(tokens)  # with GitHub's new refresh token: the spent one would be refused
    assert retried.status_code == 200, retried.text


async def test_no_token_of_github_or_of_ours_reaches_a_log_line(github, caplog):
    caplog.set_level(logging.DEBUG)
    login, _ = _member(github)
    tokens = await github.sign_in(login)
    refreshed = await github.refresh(tokens)  # re-checked: logged
    github.stand_in.answers["/user"] = (502, b"{}")
    put_off = await github.refresh(refreshed.json() | {"client_id": tokens["client_id"]})  # a warning
    github.stand_in.accounts[login]["orgs"] = {}
    refused = await github.refresh(refreshed.json() | {"client_id": tokens["client_id"]})  # refused: logged
    assert (put_off.status_code, refused.status_code) == (503, 400)
    assert "refresh put off" in caplog.text and "refresh refused" in caplog.text
    ours = {
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
    }
    secrets_seen = [v for v in {*github.stand_in.watch.values, *ours} if isinstance(v, str) and v in caplog.text]
    assert not secrets_seen and not github.stand_in.watch.leaks()


async def test_the_sealing_keys_follow_the_signing_key_s_rotation():
    """Sealed under the newest signing-key version; still opened once a newer one is added; not once it has
    left the two newest (that sign-in signs in again)."""

    pem = signing_key

    versions = [pem()]

    async def source() -> list[bytes]:
        return list(versions)

    sealer = Sealer(SigningKeys(source).sealing_keys)
    sealed = await sealer.seal(b'{"refresh_token": "r"}', context="oauth-upstream|u")
    versions.insert(0, pem())  # a new version: published, and the newest seals
    assert await sealer.open(sealed, context="oauth-upstream|u") == b'{"refresh_token": "r"}'
    assert (await sealer.seal(b"x", context="c")).split(".")[1] != sealed.split(".")[1]
    versions.insert(0, pem())  # the first version is no longer among the two newest
    with pytest.raises(Unsealable):
        await sealer.open(sealed, context="oauth-upstream|u")
