"""The stand-ins ``mcp-auth dev`` serves for connected accounts (``mcp_auth.devtools.dev_connections``:
``dev_github`` and ``dev_secrets``), on a real loopback server in this process, driven over HTTP: GitHub's
OAuth as an OAuth app sees it (the consent page and its form, the code with PKCE, refresh with rotation,
grant deletion), the REST endpoints the example toolset calls, the bounds on what it accepts, the Secret
Manager calls the real ``SecretStore`` makes, and the refusal of every one of them on Cloud Run."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mcp_auth.devtools.dev_connections import CLIENT_SECRET, LINK_KEY, VAULT_KEY, DevConnections, serve_dev_connections
from mcp_auth.devtools.dev_github import FORM_BYTES, JSON_BYTES, DevGitHub
from mcp_auth.devtools.dev_secrets import DevSecrets
from mcp_auth.errors import ConfigError
from mcp_auth.secrets import SecretNotFound, SecretStore

PROJECT = "demo-mcp-auth"
FUNCTION = "http://127.0.0.1:8080"
CALLBACK = f"{FUNCTION}/connect/github/callback"


@pytest.fixture
def standins() -> Iterator[DevConnections]:
    running = serve_dev_connections(project=PROJECT, function_url=FUNCTION)
    yield running
    running.stop()


@pytest.fixture
def http(standins: DevConnections) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standins.server.url, timeout=10) as client:
        yield client


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _authorize(http: httpx.Client, github: DevGitHub, *, login: str = "octocat", **extra: str) -> dict[str, str]:
    """The consent page opened and answered Authorize; the query the browser is sent back to the callback with."""
    query = {"client_id": github.client_id, "redirect_uri": CALLBACK, "state": "the-state", "scope": "repo", **extra}
    page = http.get("/login/oauth/authorize", params=query)
    assert page.status_code == 200, page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert f"form-action 'self' {FUNCTION}" in page.headers["content-security-policy"]
    form = re.search(r'name="form" value="([^"]+)"', page.text)
    assert form is not None and ">Authorize</button>" in page.text
    answer = http.post("/login/oauth/authorize", data={"form": form.group(1), "login": login, "decision": "authorize"})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{CALLBACK}?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(http: httpx.Client, github: DevGitHub, **form: str) -> dict[str, object]:
    answer = http.post(
        "/login/oauth/access_token",
        data={"client_id": github.client_id, "client_secret": github.client_secret, **form},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    body: dict[str, object] = answer.json()
    return body


def _bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_oauth_app_connects_refreshes_and_revokes(standins: DevConnections, http: httpx.Client):
    github = standins.github
    verifier = secrets.token_urlsafe(48)
    back = _authorize(http, github, code_challenge=_challenge(verifier), code_challenge_method="S256")
    assert back["state"] == "the-state"

    wrong = _token(http, github, grant_type="authorization_code", code=back["code"], code_verifier="x" * 43)
    assert wrong["error"] == "bad_verification_code"  # and the code is spent: each is used once
    back = _authorize(http, github, code_challenge=_challenge(verifier), code_challenge_method="S256")
    form = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": CALLBACK}
    tokens = _token(http, github, **form, code_verifier=verifier)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 8 * 3600 and tokens["scope"] == "repo"
    assert str(tokens["access_token"]).startswith("ghu_") and str(tokens["refresh_token"]).startswith("ghr_")
    assert _token(http, github, **form, code_verifier=verifier)["error"] == "bad_verification_code"  # used once

    assert http.get("/user", headers=_bearer(tokens["access_token"])).json()["login"] == "octocat"
    renewed = _token(http, github, grant_type="refresh_token", refresh_token=str(tokens["refresh_token"]))
    assert renewed["access_token"] != tokens["access_token"]
    again = _token(http, github, grant_type="refresh_token", refresh_token=str(tokens["refresh_token"]))
    assert again["error"] == "bad_refresh_token"  # rotated
    assert http.get("/user", headers=_bearer(renewed["access_token"])).status_code == 200

    refused = http.request("DELETE", f"/applications/{github.client_id}/grant", json={"access_token": "x"})
    assert refused.status_code == 401  # the client's credentials are required
    deleted = http.request(
        "DELETE",
        f"/applications/{github.client_id}/grant",
        json={"access_token": renewed["access_token"]},
        auth=(github.client_id, github.client_secret),
    )
    assert deleted.status_code == 204
    for token in (tokens["access_token"], renewed["access_token"]):
        assert http.get("/user", headers=_bearer(token)).json() == {"message": "Bad credentials"}
    gone = _token(http, github, grant_type="refresh_token", refresh_token=str(renewed["refresh_token"]))
    assert gone["error"] == "bad_refresh_token"


def test_the_rest_endpoints_of_the_example_toolset(standins: DevConnections, http: httpx.Client):
    github = standins.github
    back = _authorize(http, github, login="mona")
    token = _token(http, github, grant_type="authorization_code", code=back["code"])["access_token"]
    headers = _bearer(token)

    repos = http.get("/user/repos", params={"visibility": "all", "sort": "updated", "per_page": 30}, headers=headers)
    assert [r["full_name"] for r in repos.json()] == ["mona/hello-world", "mona/notes"]
    private = http.get("/user/repos", params={"visibility": "private"}, headers=headers).json()
    assert [r["full_name"] for r in private] == ["mona/notes"]
    created = http.post("/repos/mona/hello-world/issues", json={"title": "First", "body": "text"}, headers=headers)
    assert created.status_code == 201 and created.json()["number"] == 1 and created.json()["state"] == "open"
    assert http.post("/repos/octocat/hello-world/issues", json={"title": "x"}, headers=headers).status_code == 404
    assert http.post("/repos/mona/hello-world/issues", json={"title": ""}, headers=headers).status_code == 422
    found = http.get("/search/issues", params={"q": "is:issue involves:@me state:open"}, headers=headers).json()
    assert found["total_count"] == 1 and found["items"][0]["repository_url"].endswith("/repos/mona/hello-world")
    assert http.get("/search/issues", params={"q": "state:closed"}, headers=headers).json()["total_count"] == 0
    assert http.get("/user/repos").status_code == 401


def test_the_consent_page_refuses_another_client_another_callback_and_a_spent_form(
    standins: DevConnections, http: httpx.Client
):
    github = standins.github
    unknown = http.get("/login/oauth/authorize", params={"client_id": "Iv1.other", "redirect_uri": CALLBACK})
    assert unknown.status_code == 400 and "unknown client_id" in unknown.text
    assert http.get("/login/oauth/authorize", params={"client_id": "Iv1.ö"}).status_code == 400
    odd = http.post("/login/oauth/access_token", data={"client_id": github.client_id, "client_secret": "ö"})
    assert odd.json()["error"] == "incorrect_client_credentials"
    elsewhere = {"client_id": github.client_id, "redirect_uri": "http://127.0.0.1:9/steal"}
    assert http.get("/login/oauth/authorize", params=elsewhere).status_code == 400
    plain = {"client_id": github.client_id, "code_challenge": "abc", "code_challenge_method": "plain"}
    assert http.get("/login/oauth/authorize", params=plain).status_code == 400
    del plain["code_challenge_method"]  # RFC 7636's default is plain: refused too, not checked as S256
    assert http.get("/login/oauth/authorize", params=plain).status_code == 400

    page = http.get("/login/oauth/authorize", params={"client_id": github.client_id, "state": "s"})
    form = re.search(r'name="form" value="([^"]+)"', page.text)
    assert form is not None
    cancelled = http.post("/login/oauth/authorize", data={"form": form.group(1), "decision": "cancel"})
    assert cancelled.status_code == 303 and "error=access_denied" in cancelled.headers["location"]
    spent = http.post("/login/oauth/authorize", data={"form": form.group(1), "decision": "authorize", "login": "a"})
    assert spent.status_code == 400 and "expired or was already answered" in spent.text
    page = http.get("/login/oauth/authorize", params={"client_id": github.client_id})
    form = re.search(r'name="form" value="([^"]+)"', page.text)
    assert form is not None
    foreign = http.post(
        "/login/oauth/authorize",
        data={"form": form.group(1), "decision": "authorize", "login": "a"},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403


def test_what_it_accepts_is_bounded(standins: DevConnections, http: httpx.Client):
    github = standins.github
    assert http.post("/login/oauth/access_token", content=b"a=" + b"b" * FORM_BYTES).status_code == 413
    assert http.post("/login/oauth/authorize", content=b"a=b&" * 100).status_code == 413  # too many fields
    long_query = {"client_id": github.client_id, "state": "s" * 5000}
    assert http.get("/login/oauth/authorize", params=long_query).status_code == 414
    token = _token(http, github, grant_type="authorization_code", code=_authorize(http, github)["code"])["access_token"]
    huge = {"title": "t", "body": "x" * JSON_BYTES}
    assert http.post("/repos/octocat/notes/issues", json=huge, headers=_bearer(token)).status_code == 413


async def test_secret_store_reads_the_generated_secrets(standins: DevConnections):
    store = SecretStore(project=PROJECT, endpoint=standins.environment["MCP_AUTH_SECRET_MANAGER_ENDPOINT"])
    try:
        assert (await store.get(CLIENT_SECRET)).decode() == standins.github.client_secret
        vault, link = await store.versions(VAULT_KEY, count=2), await store.versions(LINK_KEY, count=2)
        assert [len(k) for k in vault + link] == [32, 32] and vault != link
        with pytest.raises(SecretNotFound):
            await store.get("not-there")
    finally:
        store.close()


def test_every_stand_in_refuses_to_start_on_cloud_run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("K_SERVICE", "mcp")
    with pytest.raises(ConfigError, match="refuses to start on Cloud Run"):
        DevGitHub(url="http://127.0.0.1:1", callback_url=CALLBACK)
    with pytest.raises(ConfigError, match="refuses to start on Cloud Run"):
        DevSecrets(project=PROJECT, secrets={})
    with pytest.raises(ConfigError, match="refuses to start on Cloud Run"):
        serve_dev_connections(project=PROJECT, function_url=FUNCTION)


@pytest.mark.services  # runs the command line
def test_mcp_auth_dev_refuses_to_run_on_cloud_run(tmp_path: Path):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mcp-auth"), "dev", "--port", "1"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "K_SERVICE": "mcp"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refuse to run on Cloud Run (K_SERVICE is set). Nothing was started." in done.stderr
    assert list(tmp_path.iterdir()) == []  # no .dev/, no emulator, no stand-in
