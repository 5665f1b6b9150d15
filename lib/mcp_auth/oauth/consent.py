"""The consent step: after the upstream sign-in, the user sees which client asks for access
(its host or that it is unverified, its claimed name, where the answer goes: ``consent_page.py``)
and approves or denies; only then is a code issued.

Without it, anyone could send a signed-in user a link that quietly delivers a code for
their account to a client the attacker registered. The page carries a single-use approval
token (its hash is stored); the page cannot be framed (the edge sends X-Frame-Options DENY).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mcp_auth.challenge import plain_error
from mcp_auth.oauth.consent_page import render_consent_page
from mcp_auth.oauth.redirects import redirect_to_client
from mcp_auth.pages import PAGE_HEADERS

if TYPE_CHECKING:
    from mcp_auth.oauth.server import AuthorizationServer

CONSENT_TTL = 600
CODE_TTL = 60


async def ask(
    server: AuthorizationServer,
    *,
    uid: str,
    pending: dict[str, Any],
    shown_as: str | None = None,
    upstream: str | None = None,
) -> Response:
    """The consent page for ``uid``, who is shown as ``shown_as`` (their email; the uid is an opaque id).
    ``upstream`` (sealed: ``recheck.py``) goes to the sign-in's family if the user allows."""
    approval = secrets.token_urlsafe(32)
    kept = {"upstream": upstream} if upstream is not None else {}
    await server.store.save_consent(approval, {**pending, "uid": uid, **kept}, CONSENT_TTL)
    page = render_consent_page(
        client_id=pending["client_id"],
        client_name=pending.get("client_name"),
        redirect_uri=pending["redirect_uri"],
        resource=server.resource,
        user=shown_as or uid,
        action=f"{server.issuer}/oauth/consent",
        approval=approval,
    )
    return HTMLResponse(page, headers=PAGE_HEADERS)


async def answer(server: AuthorizationServer, request: Request) -> Response:
    if request.method != "POST":
        return plain_error(405, "method_not_allowed", "Answer the consent page with its form.", {"Allow": "POST"})
    body = await request.body()  # at most the route's cap: the edge has read it (server.CONSENT_BYTES)
    form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    approval, decision = form.get("approval", ""), form.get("decision")
    if not approval or decision not in ("allow", "deny"):
        return plain_error(400, "invalid_request", "The consent answer needs approval and decision=allow|deny.")
    pending = await server.store.take_consent(approval)
    if pending is None:
        return plain_error(400, "invalid_request", "This consent page expired or was already answered: start again.")
    back = {"iss": server.issuer, **({"state": pending["state"]} if pending.get("state") else {})}
    if decision == "deny":
        return redirect_to_client(
            pending["redirect_uri"], {"error": "access_denied", "error_description": "The user denied access.", **back}
        )
    family = await server.store.new_family(
        pending["uid"], pending["client_id"], server.refresh_ttl, upstream=pending.get("upstream")
    )
    code = secrets.token_urlsafe(32)
    grant = {key: pending[key] for key in ("client_id", "redirect_uri", "code_challenge", "scope", "resource", "uid")}
    await server.store.save_code(code, {**grant, "family": family}, CODE_TTL)
    return redirect_to_client(pending["redirect_uri"], {"code": code, **back})
