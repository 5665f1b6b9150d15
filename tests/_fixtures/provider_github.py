"""A loopback stand-in for GitHub as an OAuth provider and REST API, for connected accounts.

fake_github_oauth   FakeGitHubOAuth: FakeGitHub's REST API (/user/repos, issues, search) plus
                    .connections_env(secret_manager): a function's settings with this stand-in as GitHub
                    GET  /login/oauth/authorize      consents at once as .browser_login, redirects back with a code
                    POST /login/oauth/access_token   code (+ PKCE S256) and refresh grants; rotates refresh tokens;
                                                     answers errors with a 200 and {"error": ...}, as GitHub does
                    DELETE /applications/{client_id}/grant   revokes every token of the grant (HTTP Basic)
                    GET  /user                       the token's account: login and numeric id
                    .token_ttl (seconds; None: tokens without expiry; the API refuses an access token once it
                    expired), .refreshes, .revoked, .token_requests, .issued (every token, in order),
                    .used (the access token of each API request), .revoke_all(login) (the user revoked the app)
                    and, for sign-in with GitHub (the github preset), the account's API:
                    GET  /user/emails                       .add_account(login, emails=[...]) as GitHub lists them
                    GET  /user/memberships/orgs/{org}       404 unless .add_account(..., orgs={org: state})
                    GET  /user/teams                        .add_account(..., teams=[(org, slug)]), paged by 100
                    .answers[path] = (status, raw bytes): the next answer at that API path, whatever it is
The authorize endpoint signs in as its login_hint (or login) parameter where one is given, else .browser_login.
Every token it issues is registered with the leak watch.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests._fixtures.platform import FakeGitHub, LeakWatch


class FakeGitHubOAuth(FakeGitHub):
    def __init__(self, watch: LeakWatch) -> None:
        super().__init__()
        self.watch = watch
        self.client_id = f"Iv1.{secrets.token_hex(8)}"
        self.client_secret = watch.secret(secrets.token_urlsafe(24))
        self.browser_login = "octocat"
        self.token_ttl: int | None = 3600
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> login
        self.grants: dict[str, set[str]] = {}  # login -> every token issued to it
        self.refreshes = 0
        self.revoked: list[str] = []
        self.issued: list[str] = []  # every access and refresh token, in the order issued
        self.expiry: dict[str, float] = {}  # access token -> when the API stops accepting it
        self.used: list[str] = []  # the access token of each API request, in order
        self.token_requests: list[dict[str, str]] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.accounts: dict[str, dict[str, Any]] = {}  # login -> id, emails, orgs, teams
        self.answers: dict[str, tuple[int, bytes]] = {}
        app = self._server.config.app
        app.router.routes += [
            Route("/login/oauth/authorize", self._authorize),
            Route("/login/oauth/access_token", self._token, methods=["POST"]),
            Route("/applications/{client_id}/grant", self._delete_grant, methods=["DELETE"]),
            Route("/user", self._user),
            Route("/user/emails", self._emails),
            Route("/user/memberships/orgs/{org}", self._membership),
            Route("/user/teams", self._teams),
        ]

    def provider(self, secret_name: str, **overrides: Any) -> dict[str, Any]:
        """The MCP_AUTH_CONNECTIONS entry that points the github type at this stand-in."""
        return {
            "name": "github",
            "client_id": self.client_id,
            "client_secret": secret_name,
            "authorize_url": f"{self.url}/login/oauth/authorize",
            "token_url": f"{self.url}/login/oauth/access_token",
            "api_url": self.url,
            "scopes": ["repo"],
            **overrides,
        }

    def connections_env(self, secret_manager: Any) -> dict[str, str]:
        """Settings for a function with GitHub (this stand-in) as its connected account: the client secret,
        the vault key and the link key created on the Secret Manager emulator."""

        def name(secret: str) -> str:
            return f"projects/{secret_manager.project}/secrets/{secret}"

        secret_manager.create_secret("github-client", self.client_secret.encode())
        secret_manager.create_secret("vault-key", os.urandom(32))
        secret_manager.create_secret("link-key", os.urandom(32))
        return {
            "MCP_AUTH_SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
            "MCP_AUTH_CONNECTIONS": json.dumps([self.provider(name("github-client"))]),
            "MCP_AUTH_CONNECTIONS_KEY_SECRET": name("vault-key"),
            "MCP_AUTH_CONNECT_LINK_KEY_SECRET": name("link-key"),
        }

    def _issue(self, login: str) -> dict[str, Any]:
        access = self.watch.secret(f"gho_{secrets.token_urlsafe(24)}")
        refresh = self.watch.secret(f"ghr_{secrets.token_urlsafe(30)}")
        self.logins[access] = login
        self.refresh_tokens[refresh] = login
        self.grants.setdefault(login, set()).update({access, refresh})
        self.repos.setdefault(login, [])
        self.issued += [access, refresh]
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "scope": "repo"}
        if self.token_ttl is not None:
            self.expiry[access] = time.time() + self.token_ttl
            body |= {"expires_in": self.token_ttl, "refresh_token": refresh, "refresh_token_expires_in": 15897600}
        return body

    def _login(self, request: Request) -> str | None:
        """The token's account, as FakeGitHub has it, unless the token expired."""
        login = super()._login(request)
        _, _, token = (request.headers.get("authorization") or "").partition(" ")
        self.used.append(token)
        if token in self.expiry and self.expiry[token] <= time.time():
            return None
        return login

    async def _authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        self.authorize_requests.append(q)
        if q.get("client_id") != self.client_id or not q.get("redirect_uri"):
            return JSONResponse({"error": "unknown client"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"login": q.get("login_hint") or q.get("login") or self.browser_login, **q}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}")

    async def _token(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.token_requests.append({k: v for k, v in form.items() if k in ("grant_type", "client_id", "redirect_uri")})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "incorrect_client_credentials"})
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(str(form.get("code")), None)
            if grant is None or grant.get("redirect_uri") != form.get("redirect_uri"):
                return JSONResponse({"error": "bad_verification_code"})
            challenge = grant.get("code_challenge")
            if challenge:
                digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                    return JSONResponse({"error": "bad_verification_code"})
            return JSONResponse(self._issue(grant["login"]))
        if form.get("grant_type") == "refresh_token":
            login = self.refresh_tokens.pop(str(form.get("refresh_token")), None)  # rotated: single use
            if login is None:
                return JSONResponse({"error": "bad_refresh_token"})
            self.refreshes += 1
            return JSONResponse(self._issue(login))
        return JSONResponse({"error": "unsupported_grant_type"})

    async def _delete_grant(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        token = (await request.json()).get("access_token")
        login = self.logins.get(token)
        if login is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        for issued in self.grants.pop(login, set()):
            self.logins.pop(issued, None)
            self.refresh_tokens.pop(issued, None)
        self.revoked.append(login)
        return Response(status_code=204)

    def add_account(
        self,
        login: str,
        *,
        user_id: int,
        emails: list[dict[str, Any]] | None = None,
        orgs: dict[str, str] | None = None,
        teams: list[tuple[str, str]] | None = None,
    ) -> None:
        """An account that signs in with GitHub: its numeric id, email list, org memberships (org -> state)
        and teams (org, slug)."""
        self.accounts[login] = {"id": user_id, "emails": emails or [], "orgs": orgs or {}, "teams": teams or []}

    def _api(self, request: Request) -> tuple[str | None, Response | None]:
        login = self._login(request)
        forced = self.answers.pop(request.url.path, None)
        if forced is not None:
            return login, Response(forced[1], status_code=forced[0], media_type="application/json")
        if login is None:
            return None, JSONResponse({"message": "Bad credentials"}, status_code=401)
        return login, None

    async def _user(self, request: Request) -> Response:
        login, answer = self._api(request)
        if answer is not None or login is None:
            return answer or Response(status_code=401)
        account = self.accounts.get(login, {"id": abs(hash(login)) % 10**8})
        return JSONResponse({"login": login, "id": account["id"], "type": "User"})

    async def _emails(self, request: Request) -> Response:
        login, answer = self._api(request)
        if answer is not None or login is None:
            return answer or Response(status_code=401)
        return JSONResponse(self.accounts.get(login, {}).get("emails", []))

    async def _membership(self, request: Request) -> Response:
        login, answer = self._api(request)
        if answer is not None or login is None:
            return answer or Response(status_code=401)
        org = request.path_params["org"]
        state = self.accounts.get(login, {}).get("orgs", {}).get(org)
        if state is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(
            {"state": state, "role": "member", "organization": {"login": org}, "user": {"login": login}}
        )

    async def _teams(self, request: Request) -> Response:
        login, answer = self._api(request)
        if answer is not None or login is None:
            return answer or Response(status_code=401)
        per_page, page = int(request.query_params.get("per_page", 30)), int(request.query_params.get("page", 1))
        teams = [
            {"slug": slug, "name": slug, "organization": {"login": org}}
            for org, slug in self.accounts.get(login, {}).get("teams", [])
        ]
        return JSONResponse(teams[(page - 1) * per_page : page * per_page])

    def revoke_all(self, login: str) -> None:
        """The user revoked the app on github.com: every token stops working, refresh tokens too."""
        for issued in self.grants.pop(login, set()):
            self.logins.pop(issued, None)
            self.refresh_tokens.pop(issued, None)


@pytest.fixture
def fake_github_oauth(leak_watch: LeakWatch) -> Iterator[FakeGitHubOAuth]:
    github = FakeGitHubOAuth(leak_watch)
    github.start()
    yield github
    github.stop()
