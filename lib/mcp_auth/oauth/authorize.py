"""The front channel: ``/authorize`` (client's request, PKCE S256, resource indicator) and
``/oauth/callback`` (the upstream sign-in's answer), ending in the consent page (``consent.py``), which issues our code.

Until the client and its redirect URI are verified, errors are shown here and never
redirected (no open redirect); after that they go back to the client per RFC 6749 §4.1.2.1,
but for an account the sign-in rules refuse: the person sees a page that says why and returns
to the client from it (``refusal.py``).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mcp_auth.challenge import plain_error
from mcp_auth.errors import McpAuthError
from mcp_auth.oauth import consent, recheck
from mcp_auth.oauth.clients import Client, ClientError, is_metadata_url, is_registered_id
from mcp_auth.oauth.redirects import redirect_to_client
from mcp_auth.oauth.refusal import refusal_response
from mcp_auth.oauth.signin import SignInRefused
from mcp_auth.oauth.upstream import UPSTREAM_GRANT

if TYPE_CHECKING:
    from mcp_auth.oauth.server import AuthorizationServer

logger = logging.getLogger("mcp_auth.oauth")
STATE_COOKIE = "mcp_auth_signin"
REQUEST_TTL = 600
MAX_STATE = 1024
"""The longest client ``state`` kept (it is stored until the callback and echoed back)."""
_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43


async def resolve_client(server: AuthorizationServer, client_id: str) -> Client:
    if not client_id or len(client_id) > 2000:
        raise ClientError("invalid_client", "client_id is missing or too long.")
    if is_metadata_url(client_id):
        return await server.documents.client(client_id, http=server.http(), allow_loopback=server.allow_loopback)
    if not is_registered_id(client_id):
        raise ClientError(
            "invalid_client",
            "client_id is neither an id issued by /oauth/register (mcp-…) nor an "
            "https URL (with a path) of a client metadata document.",
        )
    metadata = await server.store.load_client(client_id)
    if metadata is None:
        raise ClientError("invalid_client", "Unknown client_id: register the client first (or use a metadata URL).")
    return Client(
        client_id=client_id, redirect_uris=tuple(metadata["redirect_uris"]), client_name=metadata.get("client_name")
    )


def first_repeated(names: Iterable[str]) -> str | None:
    """The first name that occurs twice, in one pass (linear however many parameters a client sends)."""
    counts = Counter(names)
    return next((name for name, count in counts.items() if count > 1), None)


async def authorize(server: AuthorizationServer, request: Request) -> Response:
    if request.method != "GET":
        return plain_error(405, "method_not_allowed", "Use GET for the authorization endpoint.", {"Allow": "GET"})
    query = request.query_params
    repeated = first_repeated(name for name, _ in query.multi_items())
    if repeated is not None:
        return plain_error(400, "invalid_request", f"The parameter {repeated[:100]!r} is repeated.")
    try:
        client = await resolve_client(server, query.get("client_id", ""))
    except ClientError as exc:
        return plain_error(400, exc.error, exc.description)
    redirect_uri = query.get("redirect_uri")
    if redirect_uri is None and len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:
        return plain_error(
            400, "invalid_request", "redirect_uri does not exactly match a redirect URI registered for this client."
        )
    state = query.get("state")
    if state is not None and len(state) > MAX_STATE:
        return plain_error(400, "invalid_request", f"state is longer than {MAX_STATE} characters.")
    back = {"iss": server.issuer, **({"state": state} if state else {})}

    def fail(error: str, description: str) -> Response:
        return redirect_to_client(redirect_uri, {"error": error, "error_description": description, **back})

    if query.get("response_type") != "code":
        return fail("unsupported_response_type", "Only response_type=code is supported.")
    challenge = query.get("code_challenge", "")
    if query.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(challenge):
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge (43-128 characters of A-Z, a-z, "
            "0-9, '-', '.', '_', '~') with code_challenge_method=S256.",
        )
    resource = query.get("resource") or server.resource
    if resource.rstrip("/") != server.resource:
        return fail("invalid_target", f"This server issues tokens for {server.resource} only.")
    try:
        scope = server.granted_scope(query.get("scope"))
    except ValueError as exc:
        return fail("invalid_scope", str(exc))
    upstream_state = secrets.token_urlsafe(32)
    await server.store.save_request(
        upstream_state,
        {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": state,
            "scope": scope,
            "resource": server.resource,
            "client_name": client.client_name,
        },
        REQUEST_TTL,
    )
    try:
        url = await server.upstream.authorization_url(state=upstream_state, redirect_uri=server.callback_url)
    except McpAuthError as exc:
        return fail("temporarily_unavailable", exc.message)
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        STATE_COOKIE,
        upstream_state,
        max_age=REQUEST_TTL,
        path="/oauth/callback",
        secure=server.issuer.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


async def callback(server: AuthorizationServer, request: Request) -> Response:
    if request.method != "GET":
        return plain_error(405, "method_not_allowed", "Use GET for the sign-in callback.", {"Allow": "GET"})
    state = request.query_params.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE)
    if not state or cookie is None or not secrets.compare_digest(cookie.encode(), state.encode()):
        return plain_error(
            400,
            "invalid_request",
            "This sign-in was not started in this browser (state mismatch): start again from the app.",
        )
    pending = await server.store.take_request(state)
    if pending is None:
        return plain_error(400, "invalid_request", "This sign-in expired or was already used: start again.")
    back: dict[str, str] = {"iss": server.issuer, **({"state": pending["state"]} if pending.get("state") else {})}

    def finish(response: Response) -> Response:
        response.delete_cookie(STATE_COOKIE, path="/oauth/callback")
        return response

    if "error" in request.query_params or "code" not in request.query_params:
        return finish(
            redirect_to_client(
                pending["redirect_uri"],
                {"error": "access_denied", "error_description": "Sign-in was cancelled or refused.", **back},
            )
        )
    try:
        claims = await server.upstream.sign_in(
            code=request.query_params["code"], state=state, redirect_uri=server.callback_url
        )
        kept = claims.pop(UPSTREAM_GRANT, None)  # the provider's tokens, to ask it again at refresh
        uid = await server.policy.user_id(claims)
    except SignInRefused as exc:  # signed in at the provider, refused here: a page that says why (refusal.py)
        logger.info("sign-in refused: %s", exc)
        preset = getattr(getattr(server.policy, "preset", None), "name", None)
        return finish(refusal_response(exc, pending=pending, back=back, issuer=server.issuer, preset=preset))
    shown = claims.get("email") or claims.get("login")  # GitHub: the login where no email is verified
    sealed = await recheck.keep(server, uid, kept if isinstance(kept, dict) else None)
    return finish(
        await consent.ask(
            server,
            uid=uid,
            pending=pending,
            shown_as=shown if isinstance(shown, str) and shown else uid,
            upstream=sealed,
        )
    )
