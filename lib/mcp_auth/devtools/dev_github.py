"""A local stand-in for GitHub, so that ``mcp-auth dev`` runs connected accounts end to end with no GitHub
OAuth app: its OAuth endpoints (as an OAuth app's) and the REST endpoints the example ``github`` toolset
calls. For local development only: it refuses to start on Cloud Run, serves on loopback only, keeps
everything in memory for one run, and its client secret is generated for that run.

    GET  /login/oauth/authorize          the consent page: the app, the scopes, the GitHub login to act
                                         as; Authorize or Cancel (a single-use form token, never framed)
    POST /login/oauth/authorize          its form: 303 to the callback with a code (single use, 10 minutes)
                                         and the state, or with error=access_denied, as GitHub answers
    POST /login/oauth/access_token       authorization_code (PKCE S256 checked when a challenge was sent) and
                                         refresh_token grants, the client secret in the body; refresh tokens
                                         rotate; errors are a 200 with {"error": ...}, as GitHub answers them
    DELETE /applications/{id}/grant      HTTP Basic client credentials; every token of the grant stops working
    GET  /user                           the token's account
    GET  /user/repos                     its repositories (two, made when the account first connects)
    POST /repos/{owner}/{repo}/issues    an issue in one of them
    GET  /search/issues                  its issues (``state:open`` / ``state:closed`` in ``q``)

Bounded, though it listens on loopback only: bodies (16 KiB for forms, 512 KiB for JSON), query strings,
and the number of pending pages, codes, tokens, accounts and issues it keeps (the oldest go first).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mcp_auth.bounded_json import loads
from mcp_auth.devtools.loopback import TooLarge, read_body, refuse_on_cloud_run

FORM_BYTES = 16 * 1024
JSON_BYTES = 512 * 1024
MAX_QUERY_CHARS = 4 * 1024
MAX_PENDING = 256
"""Consent pages and codes not yet used, each."""
MAX_TOKENS = 4096
MAX_ACCOUNTS = 64
MAX_ISSUES = 500
"""Issues per account."""
PAGE_TTL = 600
CODE_TTL = 600
TOKEN_TTL = 8 * 3600
"""Seconds an access token lives: GitHub's expiring user tokens last eight hours."""
REFRESH_TTL = 15_897_600
"""Seconds a refresh token lives, as GitHub's (six months)."""
DEFAULT_LOGIN = "octocat"
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_PER_PAGE = re.compile(r"[0-9]{1,3}")

K = TypeVar("K")
V = TypeVar("V")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {app} (local GitHub stand-in)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 34em; margin: 3em auto; line-height: 1.4">
<h1>Authorize {app}</h1>
<p>This page stands in for GitHub on a local development server (<code>mcp-auth dev</code>): nothing
here reaches github.com. {app} asks for access to your repositories (scopes: {scopes}).</p>
<form method="post" action="{action}">
<input type="hidden" name="form" value="{form}">
<label>GitHub login <input name="login" value="{login}" required maxlength="39" pattern="[A-Za-z0-9][A-Za-z0-9-]*"
autocomplete="username" spellcheck="false"></label>
<p><button type="submit" name="decision" value="authorize">Authorize</button>
<button type="submit" name="decision" value="cancel">Cancel</button></p>
</form></body></html>
"""
_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Local GitHub stand-in</title></head>
<body style="font-family: sans-serif; max-width: 34em; margin: 3em auto"><h1>Cannot authorize</h1>
<p>{message}</p></body></html>
"""


@dataclass(slots=True)
class _Grant:
    login: str
    expires_at: float


@dataclass(slots=True)
class _Account:
    login: str
    id: int
    repos: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)


class DevGitHub:
    """GitHub's OAuth and REST endpoints for one OAuth app (``client_id``, ``client_secret``, ``callback_url``),
    served at ``url`` once the caller mounts ``routes`` there."""

    def __init__(
        self,
        *,
        url: str,
        callback_url: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: int = TOKEN_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        refuse_on_cloud_run("The development GitHub stand-in")
        self.url = url.rstrip("/")
        self.callback_url = callback_url
        self.client_id = client_id or f"Iv1.dev{secrets.token_hex(6)}"
        self.client_secret = client_secret or secrets.token_urlsafe(32)
        self.token_ttl = token_ttl
        self._clock = clock
        self._pages: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._codes: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._access: OrderedDict[str, _Grant] = OrderedDict()
        self._refresh: OrderedDict[str, _Grant] = OrderedDict()
        self._accounts: OrderedDict[str, _Account] = OrderedDict()

    def __repr__(self) -> str:  # the client secret stays out
        return f"DevGitHub({self.url!r}, client_id={self.client_id!r})"

    @property
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login/oauth/authorize", self._consent_page, methods=["GET"]),
            Route("/login/oauth/authorize", self._consent, methods=["POST"]),
            Route("/login/oauth/access_token", self._token, methods=["POST"]),
            Route("/applications/{client_id}/grant", self._delete_grant, methods=["DELETE"]),
            Route("/user", self._user),
            Route("/user/repos", self._repos),
            Route("/repos/{owner}/{repo}/issues", self._create_issue, methods=["POST"]),
            Route("/search/issues", self._search),
        ]

    def provider(self, secret_name: str) -> dict[str, Any]:
        """The ``MCP_AUTH_CONNECTIONS`` entry that points the ``github`` type at this stand-in."""
        return {
            "name": "github",
            "display_name": "GitHub",
            "client_id": self.client_id,
            "client_secret": secret_name,
            "authorize_url": f"{self.url}/login/oauth/authorize",
            "token_url": f"{self.url}/login/oauth/access_token",
            "api_url": self.url,
            "scopes": ["repo"],
        }

    # -- the consent page -------------------------------------------------------------------

    async def _consent_page(self, request: Request) -> Response:
        if len(request.url.query) > MAX_QUERY_CHARS:
            return _error_page("The authorization request is too long.", 414)
        q = dict(request.query_params)
        if not _same(q.get("client_id", ""), self.client_id):
            return _error_page("This application is not registered here (unknown client_id).", 400)
        if q.get("redirect_uri", self.callback_url) != self.callback_url:
            return _error_page(
                f"The redirect_uri is not this application's callback URL ({html.escape(self.callback_url)}).", 400
            )
        method = q.get("code_challenge_method", "plain" if q.get("code_challenge") else "")  # RFC 7636's default
        if method not in ("", "S256"):
            return _error_page("Only the S256 code challenge method is supported.", 400)
        form = secrets.token_urlsafe(32)
        now = self._clock()
        _put(self._pages, form, (now + PAGE_TTL, q), MAX_PENDING)
        login = q.get("login", DEFAULT_LOGIN)
        page = _PAGE.format(
            app="mcp-auth (local)",
            scopes=html.escape(q.get("scope", "") or "none"),
            action="/login/oauth/authorize",
            form=form,
            login=html.escape(login if _LOGIN.fullmatch(login) else DEFAULT_LOGIN),
        )
        return HTMLResponse(page, headers=self._page_headers())

    async def _consent(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin not in (None, "null", self.url):
            return _error_page("The form was posted from another site.", 403)
        try:
            form = await _form(request)
        except TooLarge:
            return _error_page("The form is too large.", 413)
        now = self._clock()
        pending = self._pages.pop(form.get("form", ""), None)
        if pending is None or pending[0] < now:
            return _error_page("This page expired or was already answered: start connecting again.", 400)
        query = pending[1]
        redirect = query.get("redirect_uri", self.callback_url)
        state = {"state": query["state"]} if "state" in query else {}
        if form.get("decision") != "authorize":
            answer = {"error": "access_denied", "error_description": "The user has denied your application access."}
            return RedirectResponse(f"{redirect}?{urlencode({**answer, **state})}", status_code=303)
        login = form.get("login", "")
        if not _LOGIN.fullmatch(login):
            return _error_page("A GitHub login is 1-39 letters, digits and hyphens: start connecting again.", 400)
        code = secrets.token_urlsafe(20)
        _put(self._codes, code, (now + CODE_TTL, {**query, "login": login}), MAX_PENDING)
        return RedirectResponse(f"{redirect}?{urlencode({'code': code, **state})}", status_code=303)

    def _page_headers(self) -> dict[str, str]:
        callback = urlsplit(self.callback_url)
        return {
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            # the form's answer redirects to the callback: a browser checks that redirect against form-action too
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            f"form-action 'self' {callback.scheme}://{callback.netloc}; frame-ancestors 'none'",
        }

    # -- the token endpoint and the grant ---------------------------------------------------

    async def _token(self, request: Request) -> JSONResponse:
        try:
            form = await _form(request)
        except TooLarge:
            return JSONResponse({"error": "request_too_large"}, status_code=413)
        if not (
            _same(form.get("client_id", ""), self.client_id)
            and _same(form.get("client_secret", ""), self.client_secret)
        ):
            return _oauth_error("incorrect_client_credentials", "The client_id and/or client_secret are incorrect.")
        now = self._clock()
        grant_type = form.get("grant_type", "authorization_code")
        if grant_type == "authorization_code":
            found = self._codes.pop(form.get("code", ""), None)
            if found is None or found[0] < now:
                return _oauth_error("bad_verification_code", "The code passed is incorrect or expired.")
            grant = found[1]
            if form.get("redirect_uri", grant.get("redirect_uri")) != grant.get("redirect_uri"):
                return _oauth_error("redirect_uri_mismatch", "The redirect_uri differs from the authorization's.")
            challenge = grant.get("code_challenge")
            if challenge and not _same(_s256(form.get("code_verifier", "")), challenge):
                return _oauth_error("bad_verification_code", "The code_verifier does not match the challenge.")
            return JSONResponse(self._issue(grant["login"], now))
        if grant_type == "refresh_token":
            held = self._refresh.pop(form.get("refresh_token", ""), None)  # rotated: each is used once
            if held is None or held.expires_at < now:
                return _oauth_error("bad_refresh_token", "The refresh token passed is incorrect or expired.")
            return JSONResponse(self._issue(held.login, now))
        return _oauth_error("unsupported_grant_type", "Only authorization_code and refresh_token are supported.")

    def _issue(self, login: str, now: float) -> dict[str, Any]:
        account = self._account(login)
        access, refresh = f"ghu_{secrets.token_urlsafe(27)}", f"ghr_{secrets.token_urlsafe(56)}"
        for table, token, ttl in ((self._access, access, self.token_ttl), (self._refresh, refresh, REFRESH_TTL)):
            account.tokens.add(token)
            for gone_token, gone in _put(table, token, _Grant(login, now + ttl), MAX_TOKENS):
                holder = self._accounts.get(gone.login)
                if holder is not None:
                    holder.tokens.discard(gone_token)
        return {
            "access_token": access,
            "expires_in": self.token_ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TTL,
            "token_type": "bearer",  # nosec B105 - a token type, not a token
            "scope": "repo",
        }

    async def _delete_grant(self, request: Request) -> Response:
        if not _same(request.path_params["client_id"], self.client_id) or not self._basic_ok(request):
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        try:
            body = loads(await read_body(request, FORM_BYTES))
        except TooLarge:
            return JSONResponse({"message": "Request too large"}, status_code=413)
        except ValueError:
            return JSONResponse({"message": "Problems parsing JSON"}, status_code=400)
        token = body.get("access_token") if isinstance(body, dict) else None
        grant = self._access.get(token) if isinstance(token, str) else None
        if grant is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        account = self._account(grant.login)
        for issued in account.tokens:
            self._access.pop(issued, None)
            self._refresh.pop(issued, None)
        account.tokens.clear()
        return Response(status_code=204)

    def _basic_ok(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return False
        return scheme.lower() == "basic" and _same(user, self.client_id) and _same(password, self.client_secret)

    # -- the REST API -----------------------------------------------------------------------

    def _caller(self, request: Request) -> _Account | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        grant = self._access.get(token) if scheme.lower() in ("bearer", "token") else None
        if grant is None or grant.expires_at < self._clock():
            return None
        return self._accounts.get(grant.login)

    async def _user(self, request: Request) -> Response:
        account = self._caller(request)
        if account is None:
            return _bad_credentials()
        return JSONResponse(
            {"login": account.login, "id": account.id, "type": "User", "html_url": f"{self.url}/{account.login}"}
        )

    async def _repos(self, request: Request) -> Response:
        account = self._caller(request)
        if account is None:
            return _bad_credentials()
        per_page = request.query_params.get("per_page", "30")
        count = min(int(per_page), 100) if _PER_PAGE.fullmatch(per_page) else 30
        repos = sorted(account.repos, key=lambda r: r["updated_at"], reverse=True)
        visibility = request.query_params.get("visibility", "all")
        if visibility in ("public", "private"):
            repos = [r for r in repos if r["private"] == (visibility == "private")]
        return JSONResponse(repos[:count])

    async def _create_issue(self, request: Request) -> Response:
        account = self._caller(request)
        if account is None:
            return _bad_credentials()
        owner, name = request.path_params["owner"], request.path_params["repo"]
        full_name = f"{owner}/{name}"
        if not any(r["full_name"].lower() == full_name.lower() for r in account.repos):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        try:
            body = loads(await read_body(request, JSON_BYTES))
        except TooLarge:
            return JSONResponse({"message": "Request too large"}, status_code=413)
        except ValueError:
            return JSONResponse({"message": "Problems parsing JSON"}, status_code=400)
        title = body.get("title") if isinstance(body, dict) else None
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(title, str) or not title.strip() or len(title) > 256 or not isinstance(text, str | None):
            return JSONResponse({"message": "Validation Failed", "errors": [{"field": "title"}]}, status_code=422)
        number = 1 + max((i["number"] for i in account.issues if i["repository_url"].endswith(full_name)), default=0)
        issue = {
            "number": number,
            "title": title,
            "body": text or "",
            "state": "open",
            "html_url": f"{self.url}/{full_name}/issues/{number}",
            "repository_url": f"{self.url}/repos/{full_name}",
            "user": {"login": account.login},
            "created_at": _now_iso(self._clock()),
        }
        account.issues.append(issue)
        del account.issues[:-MAX_ISSUES]
        return JSONResponse(issue, status_code=201)

    async def _search(self, request: Request) -> Response:
        account = self._caller(request)
        if account is None:
            return _bad_credentials()
        if len(request.url.query) > MAX_QUERY_CHARS:
            return JSONResponse({"message": "Query too long"}, status_code=422)
        terms = request.query_params.get("q", "").split()
        state = next((t.partition(":")[2] for t in terms if t.startswith("state:")), None)
        repo = next((t.partition(":")[2].lower() for t in terms if t.startswith("repo:")), None)
        found = [
            i
            for i in reversed(account.issues)
            if (state is None or i["state"] == state) and (repo is None or i["repository_url"].lower().endswith(repo))
        ]
        per_page = request.query_params.get("per_page", "30")
        count = min(int(per_page), 100) if _PER_PAGE.fullmatch(per_page) else 30
        return JSONResponse({"total_count": len(found), "incomplete_results": False, "items": found[:count]})

    def _account(self, login: str) -> _Account:
        account = self._accounts.get(login)
        if account is None:
            account = _Account(login=login, id=int.from_bytes(hashlib.sha256(login.encode()).digest()[:3], "big"))
            now = _now_iso(self._clock())
            for name, private, description in (
                ("hello-world", False, "My first repository on the local GitHub stand-in"),
                ("notes", True, "A private repository"),
            ):
                full_name = f"{login}/{name}"
                account.repos.append(
                    {
                        "full_name": full_name,
                        "name": name,
                        "private": private,
                        "description": description,
                        "html_url": f"{self.url}/{full_name}",
                        "updated_at": now,
                    }
                )
            for _, gone in _put(self._accounts, login, account, MAX_ACCOUNTS):
                for token in gone.tokens:
                    self._access.pop(token, None)
                    self._refresh.pop(token, None)
        return account


def _put(table: OrderedDict[K, V], key: K, value: V, limit: int) -> list[tuple[K, V]]:
    """``table[key] = value``, then the oldest entries dropped beyond ``limit``; the dropped ones."""
    table[key] = value
    table.move_to_end(key)
    dropped: list[tuple[K, V]] = []
    while len(table) > limit:
        dropped.append(table.popitem(last=False))
    return dropped


async def _form(request: Request) -> dict[str, str]:
    """A form-encoded body of at most FORM_BYTES (TooLarge beyond), the last value of each field."""
    body = (await read_body(request, FORM_BYTES)).decode(errors="replace")
    try:
        return {k: v[-1] for k, v in parse_qs(body, max_num_fields=64).items()}
    except ValueError:  # more fields than any form of these pages has
        raise TooLarge from None


def _same(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text a client sends (``hmac.compare_digest`` refuses
    non-ASCII ``str``)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _now_iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description})  # a 200, as GitHub answers


def _bad_credentials() -> JSONResponse:
    return JSONResponse({"message": "Bad credentials"}, status_code=401)


def _error_page(message: str, status: int) -> HTMLResponse:
    return HTMLResponse(_ERROR_PAGE.format(message=message), status_code=status, headers={"Cache-Control": "no-store"})
