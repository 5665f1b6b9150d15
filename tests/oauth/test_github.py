"""GitHubSignIn (lib/mcp_auth/oauth/github.py) against the loopback GitHub stand-in: the code is redeemed with
the PKCE verifier of its own state, the account is read from the API (numeric id, verified primary email,
organization membership, teams over several pages), and failures are refusals or "retry", never crashes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from mcp_auth.oauth.github import GitHubSignIn
from mcp_auth.oauth.signin import SignInRefused
from mcp_auth.oauth.upstream import UpstreamUnavailable
from mcp_auth.presets import build_preset
from tests._fixtures.provider_github import FakeGitHubOAuth

CALLBACK = "https://mcp.example/oauth/callback"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _step(github: FakeGitHubOAuth, http: httpx.AsyncClient, **preset: Any) -> GitHubSignIn:
    async def secret() -> str:
        return github.client_secret

    return GitHubSignIn(
        base=github.url,
        api=github.url,
        client_id=github.client_id,
        client_secret=secret,
        http=lambda: http,
        preset=build_preset("github", **preset),
    )


async def _sign_in(step: GitHubSignIn, http: httpx.AsyncClient, login: str, *, state: str = "s" * 43) -> dict[str, Any]:
    url = await step.authorization_url(state=state, redirect_uri=CALLBACK)
    answer = await http.get(f"{url}&{urlencode({'login': login})}")
    back = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    assert back["state"] == state
    return await step.sign_in(code=back["code"], state=state, redirect_uri=CALLBACK)


async def test_the_account_is_the_numeric_id_with_the_verified_primary_email_and_the_org_s_teams(
    fake_github_oauth, http
):
    github = fake_github_oauth
    github.add_account(
        "octocat",
        user_id=583231,
        emails=[{"email": "octo@example.com", "primary": True, "verified": True}],
        orgs={"acme": "active"},
        teams=[("acme", f"t{i:03}") for i in range(250)] + [("other", "ops")],
    )
    claims = await _sign_in(_step(github, http, organization="acme"), http, "octocat")
    assert claims["sub"] == "583231" and claims["login"] == "octocat" and claims["organization"] == "acme"
    assert (claims["email"], claims["email_verified"]) == ("octo@example.com", True)
    assert len(claims["groups"]) == 250 and "acme/t249" in claims["groups"] and "other/ops" not in claims["groups"]
    asked = github.authorize_requests[-1]
    assert asked["scope"] == "read:user user:email read:org" and asked["code_challenge_method"] == "S256"


async def test_an_unverified_primary_email_is_left_out_even_beside_a_verified_one(fake_github_oauth, http):
    github = fake_github_oauth
    github.add_account(
        "mallory",
        user_id=7,
        emails=[
            {"email": "ceo@example.com", "primary": True, "verified": False},
            {"email": "mallory@example.net", "primary": False, "verified": True},
        ],
    )
    claims = await _sign_in(_step(github, http), http, "mallory")
    assert "email" not in claims and "email_verified" not in claims and claims["sub"] == "7"


async def test_a_code_redeemed_with_another_sign_in_s_verifier_is_refused(fake_github_oauth, http):
    github = fake_github_oauth
    github.add_account("octocat", user_id=1)
    step = _step(github, http)
    url = await step.authorization_url(state="a" * 43, redirect_uri=CALLBACK)
    answer = await http.get(url)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    with pytest.raises(SignInRefused, match="bad_verification_code"):
        await step.sign_in(code=code, state="b" * 43, redirect_uri=CALLBACK)


async def test_github_down_or_failing_is_retry_not_a_refusal(fake_github_oauth, http):
    github = fake_github_oauth
    github.add_account("octocat", user_id=1)
    github.answers["/user"] = (502, b"<html>bad gateway</html>")
    with pytest.raises(UpstreamUnavailable, match="HTTP 502"):
        await _sign_in(_step(github, http), http, "octocat")
    step = _step(github, http)
    step._api = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(UpstreamUnavailable, match="could not be reached"):
        await _sign_in(step, http, "octocat")


def test_the_step_is_for_the_github_preset_only():
    async def secret() -> str:
        return ""

    with pytest.raises(ValueError, match="github preset"):
        GitHubSignIn(
            base="https://github.com",
            api="https://api.github.com",
            client_id="c",
            client_secret=secret,
            http=httpx.AsyncClient,
            preset=build_preset("okta"),
        )
