"""Sign-in with GitHub (the github preset) end to end: a loopback stand-in answers GitHub's OAuth endpoints
and REST API (/user, /user/emails, /user/memberships/orgs/{org}, /user/teams), and the `mcp` client signs in
through a round-robin proxy over two instances of the function.

The account is GitHub's numeric user id; membership of the required organization (and team) is checked at
sign-in; the organization's teams are groups for the group grants. A refusal is a page that names the GitHub
login, says why and what to do, and whose link returns to the client with ``access_denied``; an unverified
email is never used to identify, admit or find a record; hostile and oversized API answers refuse the sign-in
with that page, never a server error.

Each refresh reads the account again with the GitHub token kept (sealed) at sign-in: a member removed from
the mapped team loses its toolset at the client's next refresh, one removed from the organization gets
``invalid_grant``, and GitHub failing is a retryable 503 whose refresh token still works.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_auth.store.identities import derived_uid
from mcp_auth.store.users import UserRecord
from tests._fixtures.oauth import store_secrets
from tests._fixtures.provider_github import FakeGitHubOAuth
from tests.e2e.test_builtin_oauth import Deployment, _sdk_oauth
from tests.e2e.test_provider_presets import _both_served, _connect, _refreshed_tools, _refused, pair_env
from tests.oauth.documents import serve_documents
from tests.oidc.helper import MemoryStorage

ORG = "acme"


@dataclass
class GitHubEndpoints:
    """What the sign-in helpers need to know of the upstream: where its sign-in starts, and its issuer."""

    issuer: str
    authorization_endpoint: str


@pytest.fixture
def github_pair(request, fake_github_oauth: FakeGitHubOAuth, start_function, drongo_endpoint, round_robin_proxy):
    """Two instances behind the proxy signing in with the GitHub stand-in; extra environment as the indirect
    parameter (default: members of ORG may sign in)."""
    github = fake_github_oauth
    proxy = round_robin_proxy()
    url = f"{proxy.url}/mcp"
    suffix = store_secrets(drongo_endpoint, upstream_secret=github.client_secret, upstream_name="github-upstream")
    env = {
        **pair_env(url, drongo_endpoint, f"oauth-signing-{suffix}"),
        "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github",
        "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": github.url,  # GitHub Enterprise Server's shape: one base URL
        "MCP_AUTH_OAUTH_GITHUB_API_URL": github.url,
        "MCP_AUTH_OAUTH_GITHUB_ORG": ORG,
        "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": github.client_id,
        "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": f"github-upstream-{suffix}",
        **getattr(request, "param", {}),
    }
    a, b = (start_function(**env) for _ in range(2))
    proxy.route_to([a.base, b.base])
    endpoints = GitHubEndpoints(issuer=github.url, authorization_endpoint=f"{github.url}/login/oauth/authorize")
    with serve_documents() as documents:
        deployment = Deployment(url, endpoints, documents)  # type: ignore[arg-type]
        deployment.instances = (a, b)  # type: ignore[attr-defined]
        yield deployment, proxy, github


def settings(**env: str) -> Any:
    return pytest.mark.parametrize("github_pair", [env], indirect=True)


def _account(github: FakeGitHubOAuth, **kwargs: Any) -> tuple[str, int]:
    login, user_id = f"u-{uuid.uuid4().hex[:8]}", secrets.randbelow(10**9) + 1
    kwargs.setdefault("emails", [{"email": f"{login}@example.com", "primary": True, "verified": True}])
    kwargs.setdefault("orgs", {ORG: "active"})
    github.add_account(login, user_id=user_id, **kwargs)
    return login, user_id


@settings(MCP_AUTH_OAUTH_GROUP_GRANTS=json.dumps({f"{ORG}/tooling": {"toolsets": ["profile"]}}))
async def test_an_organization_member_signs_in_as_its_numeric_id_on_two_instances(github_pair):
    deployment, proxy, github = github_pair
    login, user_id = _account(github, teams=[(ORG, "tooling"), ("elsewhere", "tooling")])
    who = await _connect(deployment, login)
    assert who["user_id"] == derived_uid(github.url, str(user_id)) and "mcp:tools" in who["scopes"]
    assert "get_profile" in who["tools"]  # the team acme/tooling grants the profile toolset
    _both_served(proxy)
    asked = github.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and asked["state"] and "read:org" in asked["scope"]


async def test_an_account_outside_the_organization_is_refused_with_what_to_do(github_pair):
    deployment, _, github = github_pair
    login, user_id = _account(github, orgs={"other": "active"})
    reason = await _refused(deployment, login, shown=login)
    assert f"You signed in to GitHub as {login}" in reason
    assert f"not a member of the organization {ORG}" in reason and "ask an owner" in reason


async def test_a_pending_invitation_is_refused_until_accepted(github_pair):
    deployment, _, github = github_pair
    login, _ = _account(github, orgs={ORG: "pending"})
    reason = await _refused(deployment, login, shown=login)
    assert "invitation" in reason and "accept it" in reason


@settings(MCP_AUTH_OAUTH_GITHUB_TEAMS="platform")
async def test_a_member_outside_the_required_teams_is_refused(github_pair):
    deployment, _, github = github_pair
    outsider, _ = _account(github, teams=[(ORG, "sales"), ("elsewhere", "platform")])
    reason = await _refused(deployment, outsider, shown=outsider)
    assert "none of the teams" in reason and "platform" in reason
    insider, user_id = _account(github, teams=[(ORG, "platform")])
    assert (await _connect(deployment, insider))["user_id"] == derived_uid(github.url, str(user_id))


@settings(MCP_AUTH_OAUTH_ALLOWED_DOMAINS="example.com")
async def test_an_unverified_primary_email_is_refused_by_a_domain_rule_and_finds_no_record(github_pair, user_repo):
    deployment, _, github = github_pair
    planted = f"boss-{uuid.uuid4().hex[:8]}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    login, user_id = _account(
        github,
        emails=[
            {"email": planted, "primary": True, "verified": False},
            {"email": "someone@example.com", "primary": False, "verified": False},
        ],
    )
    reason = await _refused(deployment, login, shown=login)  # the login, never the unverified address
    assert "not verified" in reason and planted not in reason
    assert await user_repo.get(planted) is not None
    assert await user_repo.get(derived_uid(github.url, str(user_id))) is None


async def test_an_unverified_email_naming_a_record_never_signs_in_as_it(github_pair, user_repo):
    deployment, _, github = github_pair
    planted = f"ceo-{uuid.uuid4().hex[:8]}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    login, user_id = _account(github, emails=[{"email": planted, "primary": True, "verified": False}])
    who = await _connect(deployment, login)
    assert who["user_id"] == derived_uid(github.url, str(user_id)) != planted
    assert "get_profile" not in who["tools"]
    consent = await _consent_page(deployment, login)
    assert login in consent and planted not in consent  # the consent page names the login, not the address


async def _consent_page(deployment: Deployment, login: str) -> str:
    """The consent page a browser reaches after signing in to GitHub as ``login``."""
    url = deployment.authorize_url(await deployment.register(), "x" * 43)
    async with httpx.AsyncClient(timeout=20) as browser:
        for _ in range(10):
            if url.startswith(deployment.idp.authorization_endpoint):
                url = f"{url}&{urlencode({'login': login})}"
            answer = await browser.get(url)
            if not answer.is_redirect:
                assert answer.status_code == 200 and 'name="approval"' in answer.text, answer.text[:300]
                return answer.text
            url = urljoin(str(answer.url), answer.headers["location"])
    raise AssertionError("no consent page")


async def test_hostile_and_oversized_api_answers_refuse_the_sign_in_cleanly(github_pair):
    deployment, _, github = github_pair
    answers = {
        "/user": [
            (200, b'{"id": "1", "login": "x"}'),  # the id as a string
            (200, b'{"id": 1, "login": "a\\u0000b"}'),
            (200, b"[" * 10_000),
            (200, b"not json"),
            (401, b'{"message": "Bad credentials"}'),
        ],
        "/user/emails": [(200, b'[{"email": "' + b"a" * 300_000 + b'@example.com"}]'), (200, b'{"email": 1}')],
        "/user/memberships/orgs/acme": [(200, b'{"state": "active", "organization": {"login": "evil"}}')],
        "/user/teams": [(200, json.dumps([{"slug": 7}]).encode()), (200, json.dumps([{"x": 1}] * 101).encode())],
    }
    for path, cases in answers.items():
        for status, body in cases:
            login, _ = _account(github)
            github.answers[path] = (status, body)
            reason = await _refused(deployment, login)
            assert "GitHub" in reason and "Internal" not in reason, (path, reason)


@settings(
    MCP_AUTH_OAUTH_GROUP_GRANTS=json.dumps({f"{ORG}/tooling": {"toolsets": ["profile"]}}),
    MCP_AUTH_USER_CACHE_TTL="600",
)
async def test_a_member_removed_from_the_mapped_team_loses_its_toolset_by_the_next_refresh(github_pair, user_repo):
    deployment, proxy, github = github_pair
    login, user_id = _account(github, teams=[(ORG, "tooling"), (ORG, "sales")])
    storage, sign_ins = MemoryStorage(), []
    oauth = _sdk_oauth(deployment, storage, sign_ins, account=login)
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(deployment.url, http_client=http), raise_exceptions=True) as client:
            assert "get_profile" in {tool.name for tool in (await client.list_tools()).tools}
    uid = derived_uid(github.url, str(user_id))

    github.accounts[login]["teams"] = [(ORG, "sales")]  # a maintainer took the member out of acme/tooling
    tools = await _refreshed_tools(oauth, storage, deployment.url, uid, deployment.instances)
    assert "get_profile" not in tools and "whoami" in tools and len(sign_ins) == 1
    record = await user_repo.get(uid)
    assert record is not None and record.groups == (f"{ORG}/sales",) and "profile" not in record.toolsets
    _both_served(proxy)
    _no_token_logged(github, deployment.instances)


def _no_token_logged(github: FakeGitHubOAuth, instances: Any) -> None:
    """No token GitHub issued (kept sealed by the sign-ins) appears in either instance's log."""
    logs = "".join(instance.output() for instance in instances)
    assert logs  # the instances did log
    assert not [value[:6] for value in github.watch.values if value in logs]


async def test_a_member_removed_from_the_organization_gets_invalid_grant_at_the_next_refresh(github_pair):
    deployment, _, github = github_pair
    login, _ = _account(github)
    storage = MemoryStorage()
    await _connect(deployment, login, storage)
    assert storage.client is not None and storage.tokens is not None and storage.tokens.refresh_token
    client_id, refresh_token = storage.client.client_id, storage.tokens.refresh_token

    github.answers["/user"] = (502, b'{"message": "Server Error"}')  # GitHub failing: retry, nothing decided
    put_off = await deployment.refresh(client_id, refresh_token)
    assert put_off.status_code == 503 and put_off.json()["error"] == "temporarily_unavailable", put_off.text
    assert put_off.headers["retry-after"] == "30"

    github.accounts[login]["orgs"] = {}  # removed from the organization
    refused = await deployment.refresh(client_id, refresh_token)  # the same token: re-armed, not a replay
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert f"not a member of the organization {ORG}" in refused.json()["error_description"]
    _no_token_logged(github, deployment.instances)
