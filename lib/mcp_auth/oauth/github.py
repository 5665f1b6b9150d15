"""Sign-in with GitHub (the ``github`` preset): plain OAuth 2, no ID token, so the account comes from the API.

    GET  {base}/login/oauth/authorize           state + PKCE S256, as the OpenID upstreams
    POST {base}/login/oauth/access_token        code + verifier; GitHub answers errors as 200 {"error": ...}
    GET  {api}/user                             the numeric id (the subject) and the login
    GET  {api}/user/emails                      the primary address, used only if GitHub verified it
    GET  {api}/user/memberships/orgs/{org}      with a required organization: the membership must be active
    GET  {api}/user/teams                       with a required organization: its teams, as groups ``org/team``

``base`` is https://github.com or a GitHub Enterprise Server's URL, ``api`` its REST API. The returned
claims have the shape ``presets.read_account`` reads for the github preset. GitHub's token (with its refresh
token, where the app's tokens expire) is kept sealed with the sign-in (``recheck.py``): each refresh of ours
reads the account again with it (``GitHubSignIn.recheck``), so an account that left the organization or its
required teams, or that revoked the app, is refused by the next refresh. Every answer is read to at most
``MAX_ANSWER`` bytes and checked: a malformed, hostile or oversized answer refuses the sign-in with a message,
never an error page.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from mcp_auth import bounded_json
from mcp_auth.oauth.signin import SignInRefused
from mcp_auth.oauth.upstream import UPSTREAM_GRANT, Page, UpstreamUnavailable, verifier_for
from mcp_auth.presets import MAX_GROUPS, Preset

MAX_ANSWER = 256 * 1024
TEAM_PAGES = 3
"""Pages of 100 teams read at most: more teams in the organization than MAX_GROUPS are refused anyway."""
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubSignIn:
    """The authorization server's upstream step for GitHub (``upstream.SignInStep``)."""

    def __init__(
        self,
        *,
        base: str,
        api: str,
        client_id: str,
        client_secret: Callable[[], Awaitable[str]],
        http: Callable[[], httpx.AsyncClient],
        preset: Preset,
    ) -> None:
        if preset.name != "github":
            raise ValueError(f"GitHubSignIn reads accounts for the github preset, got {preset.name!r}.")
        self.issuer, self._api = base.rstrip("/"), api.rstrip("/")
        self._client_id, self._secret, self._http, self._preset = client_id, client_secret, http, preset

    @property
    def pages(self) -> Mapping[str, Page]:
        return MappingProxyType({})  # GitHub serves its own

    async def authorization_url(self, *, state: str, redirect_uri: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier_for(state).encode()).digest()).rstrip(b"=")
        params = {
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self._preset.scopes),
            "state": state,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            "allow_signup": "false",
        }
        return f"{self.issuer}/login/oauth/authorize?{urlencode(params)}"

    async def sign_in(self, *, code: str, state: str, redirect_uri: str) -> dict[str, Any]:
        """Redeem GitHub's code; the account's claims, read from the API with the token it gave, and that
        token under ``UPSTREAM_GRANT``."""
        tokens = await self._redeem(code, state, redirect_uri)
        claims = await self._account(tokens["access_token"])
        return {**claims, UPSTREAM_GRANT: {"kind": "github", "sub": claims["sub"], **tokens}}

    async def recheck(self, grant: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read the account again with the token kept at sign-in (refreshed first where it expires): the same
        numeric id, still a member of the organization (and of a required team), and its teams now."""
        token, sub = grant.get("access_token"), grant.get("sub")
        if grant.get("kind") != "github" or not isinstance(token, str) or not isinstance(sub, str):
            raise SignInRefused("This sign-in kept no GitHub token to check the account with: sign in again.")
        expires = grant.get("expires_at")
        if isinstance(grant.get("refresh_token"), str) and isinstance(expires, int) and expires < time.time() + 60:
            grant = {"kind": "github", "sub": sub, **await self._tokens(await self._refresh_form(grant))}
        try:
            claims = await self._account(str(grant["access_token"]))
        except UpstreamUnavailable as exc:
            exc.grant = grant  # refreshed at GitHub above: the previous refresh token is spent
            raise
        if claims["sub"] != sub:
            raise SignInRefused("GitHub answered for another account: sign in again.")
        return claims, grant

    async def _account(self, token: str) -> dict[str, Any]:
        user = await self._get(token, "/user")
        if not isinstance(user, dict):
            raise _malformed("/user")
        uid, login = user.get("id"), user.get("login")
        if type(uid) is not int or not 0 < uid < 2**63 or not isinstance(login, str) or not _LOGIN.fullmatch(login):
            raise _malformed("/user")
        claims: dict[str, Any] = {"sub": str(uid), "login": login}
        email = _primary_verified(await self._get(token, "/user/emails"))
        if email is not None:
            claims |= {"email": email, "email_verified": True}
        organization = self._preset.organization
        if organization is not None:
            await self._check_member(token, organization, login)
            claims["organization"] = organization
            claims["groups"] = await self._teams(token, organization, login)
        return claims

    async def _redeem(self, code: str, state: str, redirect_uri: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "client_id": self._client_id,
            "client_secret": await self._secret(),
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier_for(state),
        }
        return await self._tokens(form)

    async def _refresh_form(self, grant: dict[str, Any]) -> dict[str, str]:
        return {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": await self._secret(),
            "refresh_token": str(grant["refresh_token"]),
        }

    async def _tokens(self, form: dict[str, str]) -> dict[str, Any]:
        """GitHub's token answer to ``form``: the access token, and its refresh token and expiry where the
        app's tokens expire."""
        body = await self._read("POST", f"{self.issuer}/login/oauth/access_token", data=form)
        if isinstance(body, dict) and body.get("error") == "incorrect_client_credentials":
            raise UpstreamUnavailable(  # this deployment's app is refused, not the account
                "GitHub refused this server's OAuth app credentials: check MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID and "
                "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET."
            )
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            raise SignInRefused(f"GitHub refused the sign-in ({body['error'][:60]}): start again from the app.")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not 0 < len(token) <= 1024:
            raise SignInRefused("GitHub's answer to the sign-in held no access token: start again from the app.")
        tokens: dict[str, Any] = {"access_token": token}
        refresh, ttl = body.get("refresh_token"), body.get("expires_in")
        if isinstance(refresh, str) and 0 < len(refresh) <= 1024 and type(ttl) is int and 0 < ttl < 10**8:
            tokens |= {"refresh_token": refresh, "expires_at": int(time.time()) + ttl}
        return tokens

    async def _check_member(self, token: str, organization: str, login: str) -> None:
        membership = await self._get(token, f"/user/memberships/orgs/{quote(organization)}", missing=True)
        state = membership.get("state") if isinstance(membership, dict) else None
        if state == "pending":
            raise SignInRefused(
                f"Your invitation to the GitHub organization {organization} is not accepted yet: accept it on "
                "GitHub, then sign in again.",
                account=login,
            )
        org = membership.get("organization") if isinstance(membership, dict) else None
        named = org.get("login") if isinstance(org, dict) else None
        if state != "active" or not isinstance(named, str) or named.lower() != organization.lower():
            raise SignInRefused(
                f"The GitHub account {login} is not a member of the organization {organization}, or the "
                f"organization has not approved this app: ask an owner of {organization} to add you or to grant "
                "the app access, then sign in again.",
                account=login,
            )

    async def _teams(self, token: str, organization: str, login: str) -> list[str]:
        slugs: set[str] = set()
        for page in range(1, TEAM_PAGES + 1):
            teams = await self._get(token, f"/user/teams?per_page=100&page={page}")
            if not isinstance(teams, list) or len(teams) > 100:
                raise _malformed("/user/teams")
            for team in teams:
                slug = team.get("slug") if isinstance(team, dict) else None
                org = team.get("organization") if isinstance(team, dict) else None
                owner = org.get("login") if isinstance(org, dict) else None
                if not isinstance(slug, str) or not isinstance(owner, str) or len(slug) > 100:
                    raise _malformed("/user/teams")
                if owner.lower() == organization.lower():
                    slugs.add(slug)
            if len(teams) < 100 or len(slugs) > MAX_GROUPS:
                break
        required = self._preset.teams
        if required and not slugs & set(required):
            raise SignInRefused(
                f"The GitHub account {login} is in none of the teams of {organization} that may sign in to this "
                f"server ({', '.join(required)}): ask a maintainer of one of them to add you.",
                account=login,
            )
        return sorted(f"{organization}/{slug}" for slug in slugs)

    async def _get(self, token: str, path: str, *, missing: bool = False) -> Any:
        """The JSON GitHub answers at ``path``; with ``missing``, None for 403 and 404 (not a member)."""
        return await self._read("GET", f"{self._api}{path}", token=token, missing=missing)

    async def _read(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        data: dict[str, str] | None = None,
        missing: bool = False,
    ) -> Any:
        headers = {**_HEADERS, "Accept": "application/json"} if token is None else {**_HEADERS}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        path = url.split("?", 1)[0].removeprefix(self._api).removeprefix(self.issuer)
        try:
            async with self._http().stream(
                method, url, data=data, headers=headers, timeout=10.0, follow_redirects=False
            ) as response:
                limited = response.status_code == 429 or (
                    response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"
                )
                if limited:  # GitHub's rate limit: the account is not refused, the check is put off
                    raise UpstreamUnavailable(f"GitHub's rate limit was reached at {path}: retry later.")
                if missing and response.status_code in (403, 404):
                    return None
                if response.status_code >= 500:
                    raise UpstreamUnavailable(f"GitHub answered HTTP {response.status_code} at {path}: retry.")
                if response.status_code != 200:
                    raise SignInRefused(
                        f"GitHub refused to read the account (HTTP {response.status_code} at {path}): start again."
                    )
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER:
                        raise SignInRefused(f"GitHub's answer at {path} is larger than {MAX_ANSWER} bytes: refused.")
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"GitHub could not be reached ({type(exc).__name__}): retry.") from exc
        try:
            return bounded_json.loads(body)
        except ValueError:
            raise _malformed(path) from None


def _primary_verified(emails: Any) -> str | None:
    """The primary address if GitHub verified it; an unverified one is never returned."""
    if not isinstance(emails, list) or len(emails) > 1000:
        raise _malformed("/user/emails")
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") is True:
            address = entry.get("email")
            return address if entry.get("verified") is True and isinstance(address, str) else None
    return None


def _malformed(path: str) -> SignInRefused:
    return SignInRefused(f"GitHub's answer at {path} is malformed: the sign-in is refused; try again later.")
