"""Local development sign-in: a page on the function itself that asks for a user id, standing in for the
company's OpenID provider (``MCP_AUTH_OAUTH_DEV_SIGN_IN``; the settings refuse it on Cloud Run).

    GET  /oauth/dev-sign-in?state=S     the page: one field, the user id, and a single-use form token
    POST /oauth/dev-sign-in             form token + user id -> 303 to /oauth/callback?state=S&code=C

Everything around the page is the deployment's flow: ``/oauth/authorize`` sends the browser here (in
place of the provider's authorization endpoint), the callback checks the sign-in's state cookie, redeems
the code (here: the user id the page stored for it) and shows the consent page, which issues our code.

The page is guarded the way the consent page is: it carries a single-use form token (only its hash is
stored, with the sign-in's state), it cannot be framed (the edge sends X-Frame-Options DENY, the page's
policy ``frame-ancestors 'none'``) and it posts only to itself; an answer from another origin is refused.
The user id is checked as user ids are everywhere (``validate_uid``) and, unless first logins create
records, must name an existing user record: the page says so, instead of the endpoint refusing later.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mcp_auth.challenge import plain_error
from mcp_auth.oauth.signin import SignInRefused
from mcp_auth.oauth.upstream import Page
from mcp_auth.pages import PAGE_HEADERS
from mcp_auth.store.users import InvalidUserId, validate_uid

if TYPE_CHECKING:
    from mcp_auth.oauth.store import OAuthStore
    from mcp_auth.store.users import UserRepository

PATH = "/oauth/dev-sign-in"
PAGE_TTL = 600
CODE_TTL = 60
MAX_USER = 256
"""The longest user id accepted (``validate_uid``'s bound, checked before it runs)."""
_FORM_KEY, _CODE_KEY = "dev-sign-in-form:", "dev-sign-in-code:"  # kept beside the requests in flight
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
"""A state or form token as ``secrets.token_urlsafe`` makes them (43 characters for 32 bytes)."""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in (local development)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 34em; margin: 3em auto; line-height: 1.4">
<h1>Sign in (local development)</h1>
<p>This page stands in for your company's sign-in provider on a local server: it asks for a user id
and checks nothing else. A deployment on Cloud Run never serves it.</p>
{problem}<form method="post" action="{action}">
<input type="hidden" name="form" value="{form}">
<label>User id <input name="user" value="{user}" required autofocus maxlength="{max_user}"
autocomplete="username" spellcheck="false"></label>
<button type="submit">Sign in</button>
</form></body></html>
"""
_PROBLEM = '<p role="alert" style="border: 2px solid #b00000; padding: 0.6em; color: #b00000">{message}</p>\n'


class DevSignIn:
    """The development sign-in: the authorization server's upstream (``authorization_url``, ``sign_in``),
    its sign-in rules (``user_id``) and the page they send the browser to (``pages``).

    ``users`` with ``create_users`` False: a user id must name an existing record (what the endpoint
    requires with ``MCP_AUTH_FIRST_LOGIN=reject``)."""

    def __init__(
        self, *, issuer: str, store: OAuthStore, users: UserRepository | None = None, create_users: bool = False
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._store, self._users, self._create_users = store, users, create_users

    @property
    def pages(self) -> Mapping[str, Page]:
        return {PATH: self.page}

    # -- the upstream ---------------------------------------------------------------------
    async def authorization_url(self, *, state: str, redirect_uri: str) -> str:
        return f"{self.issuer}{PATH}?{urlencode({'state': state})}"

    async def sign_in(self, *, code: str, state: str, redirect_uri: str) -> dict[str, Any]:
        """The claims of the user the page signed in for this ``state``; the code works once."""
        grant = await self._store.take_request(_CODE_KEY + code)
        if grant is None or not secrets.compare_digest(str(grant.get("state", "")).encode(), state.encode()):
            raise SignInRefused("The sign-in page's answer expired or belongs to another sign-in: start again.")
        return {"sub": grant["uid"]}

    # -- the sign-in rules ---------------------------------------------------------------
    async def user_id(self, claims: dict[str, Any]) -> str:
        try:
            return validate_uid(claims.get("sub", ""))
        except InvalidUserId as exc:
            raise SignInRefused(str(exc)) from None

    # -- the page -------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return await self._show(request)
        if request.method == "POST":
            return await self._answer(request)
        return plain_error(
            405,
            "method_not_allowed",
            "Open the sign-in page with GET; answer it with its form.",
            {"Allow": "GET, POST"},
        )

    async def _show(self, request: Request) -> Response:
        query = request.query_params
        state = query.get("state", "")
        if len(query) != 1 or len(query.getlist("state")) != 1 or not _TOKEN.fullmatch(state):
            return plain_error(
                400,
                "invalid_request",
                "This page is opened by a sign-in that an app started (with one state parameter): start from the app.",
            )
        form = secrets.token_urlsafe(32)
        await self._store.save_request(_FORM_KEY + form, {"state": state}, PAGE_TTL)
        return self._render(form=form)

    async def _answer(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") != self.issuer:
            return plain_error(403, "invalid_request", "The sign-in form was sent from another site.")
        body = await request.body()  # at most the route's cap: the edge has read it (server.CONSENT_BYTES)
        try:
            fields = parse_qs(body.decode(errors="replace"), keep_blank_values=True, max_num_fields=4)
        except ValueError:
            fields = {"": ["", ""]}  # too many fields: answered as a repeated one
        form, user = fields.get("form", []), fields.get("user", [])
        if len(form) != 1 or len(user) != 1 or set(fields) - {"form", "user"} or not _TOKEN.fullmatch(form[0]):
            return plain_error(400, "invalid_request", "The sign-in form needs its form token and one user id.")
        uid = user[0].strip()
        problem = self._problem(uid)
        if problem is None and self._users is not None and not self._create_users:
            if await self._users.get(uid) is None:
                problem = (
                    403,
                    f"There is no user record for {uid!r} on this server: create it (mcp-auth users create "
                    f"{uid}), or sign in as a user who has one.",
                )
        if problem is not None:
            status, message = problem
            return self._render(form=form[0], user=uid[:MAX_USER], problem=message, status=status)
        pending = await self._store.take_request(_FORM_KEY + form[0])
        if pending is None:
            return plain_error(
                400, "invalid_request", "This sign-in page expired or was already answered: start again from the app."
            )
        code = secrets.token_urlsafe(32)
        await self._store.save_request(_CODE_KEY + code, {"state": pending["state"], "uid": uid}, CODE_TTL)
        query = urlencode({"state": pending["state"], "code": code})
        return RedirectResponse(f"{self.issuer}/oauth/callback?{query}", status_code=303, headers=PAGE_HEADERS)

    @staticmethod
    def _problem(uid: str) -> tuple[int, str] | None:
        if not uid:
            return 400, "Enter a user id."
        if len(uid) > MAX_USER:
            return 400, f"A user id is at most {MAX_USER} characters long."
        try:
            validate_uid(uid)
        except InvalidUserId as exc:
            return 400, str(exc)
        return None

    def _render(self, *, form: str, user: str = "", problem: str | None = None, status: int = 200) -> Response:
        page = _PAGE.format(
            problem=_PROBLEM.format(message=html.escape(problem)) if problem else "",
            action=html.escape(f"{self.issuer}{PATH}"),
            form=html.escape(form),
            user=html.escape(user),
            max_user=MAX_USER,
        )
        return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)
