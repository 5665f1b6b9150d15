"""The back channel: ``/oauth/token`` (authorization_code, refresh_token), ``/oauth/revoke``
(RFC 7009) and ``/oauth/register`` (RFC 7591, rate-limited).

Refresh tokens rotate on every use; presenting one that was already used revokes
its whole family (every refresh token from the same sign-in), and so does a
replayed authorization code.

A refresh asks the sign-in provider about the account again (``recheck.py``): refused by the provider,
the refresh is ``invalid_grant`` and the family revoked; the provider unreachable, it is 503
``temporarily_unavailable`` with Retry-After, and the presented refresh token stays valid for the retry.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_auth import bounded_json
from mcp_auth.challenge import plain_error
from mcp_auth.oauth import recheck
from mcp_auth.oauth.clients import ClientError, register

if TYPE_CHECKING:
    from mcp_auth.oauth.server import AuthorizationServer

logger = logging.getLogger("mcp_auth.oauth")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
RECHECK_RETRY_AFTER = 30
"""Seconds a client is asked to wait before retrying a refresh the provider could not be asked about."""


class GrantError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.headers = error, description, status, headers


async def _form(request: Request) -> dict[str, str]:
    if request.method != "POST":
        raise GrantError("invalid_request", "Use POST.", 405)
    if (request.headers.get("content-type") or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise GrantError("invalid_request", "Send the parameters as application/x-www-form-urlencoded.")
    body = await request.body()  # at most the route's cap: the edge has read it (server.FORM_BYTES)
    from urllib.parse import parse_qs

    parsed = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
    if any(len(values) > 1 for values in parsed.values()):
        raise GrantError("invalid_request", "A parameter is repeated.")
    if request.headers.get("authorization"):
        raise GrantError("invalid_client", "Clients here are public: send client_id in the form, no credentials.", 401)
    return {name: values[0] for name, values in parsed.items()}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def token(server: AuthorizationServer, request: Request) -> Response:
    try:
        form = await _form(request)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            body = await _authorization_code(server, form)
        elif grant_type == "refresh_token":
            body = await _refresh(server, form)
        else:
            raise GrantError("unsupported_grant_type", "Use authorization_code or refresh_token.")
    except GrantError as exc:
        return plain_error(exc.status, exc.error, exc.description, exc.headers)
    return JSONResponse(body, headers=_NO_STORE)


async def _authorization_code(server: AuthorizationServer, form: dict[str, str]) -> dict[str, Any]:
    code, client_id, verifier = form.get("code"), form.get("client_id"), form.get("code_verifier")
    if not code or not client_id or not verifier:
        raise GrantError("invalid_request", "code, client_id and code_verifier are required.")
    grant, replayed = await server.store.redeem_code(code)
    if grant is None:
        raise GrantError("invalid_grant", "The authorization code is unknown or expired.")
    if replayed:
        await server.store.revoke_family(grant["family"])
        raise GrantError("invalid_grant", "The authorization code was already used; tokens issued from it are revoked.")
    if grant["client_id"] != client_id:
        raise GrantError("invalid_grant", "The authorization code was issued to another client.")
    if form.get("redirect_uri", grant["redirect_uri"]) != grant["redirect_uri"]:
        raise GrantError("invalid_grant", "redirect_uri does not match the authorization request.")
    if not secrets.compare_digest(_s256(verifier).encode(), str(grant["code_challenge"]).encode()):
        raise GrantError("invalid_grant", "The code_verifier does not match the code_challenge (PKCE).")
    if form.get("resource", grant["resource"]).rstrip("/") != grant["resource"]:
        raise GrantError("invalid_target", f"This code is for {grant['resource']}.")
    return await _issue(server, grant)


async def _refresh(server: AuthorizationServer, form: dict[str, str]) -> dict[str, Any]:
    presented, client_id = form.get("refresh_token"), form.get("client_id")
    if not presented or not client_id:
        raise GrantError("invalid_request", "refresh_token and client_id are required.")
    grant, replayed = await server.store.use_refresh_token(presented)
    if grant is None:
        raise GrantError("invalid_grant", "The refresh token is unknown or expired: sign in again.")
    if replayed:
        await server.store.revoke_family(grant["family"])
        raise GrantError("invalid_grant", "The refresh token was already used; this sign-in is revoked: sign in again.")
    if grant["client_id"] != client_id:
        await server.store.revoke_family(grant["family"])
        raise GrantError("invalid_grant", "The refresh token was issued to another client.")
    family = await server.store.load_family(grant["family"])
    if not family or family.get("revoked"):
        raise GrantError("invalid_grant", "This sign-in was revoked: sign in again.")
    if "scope" in form:
        narrowed = set(form["scope"].split())
        if not narrowed <= set(grant["scope"].split()):
            raise GrantError("invalid_scope", "A refresh may only narrow the granted scopes.")
        grant = {**grant, "scope": " ".join(sorted(narrowed))}
    if form.get("resource", grant["resource"]).rstrip("/") != grant["resource"]:
        raise GrantError("invalid_target", f"This token is for {grant['resource']}.")
    if recheck.rechecks(server):  # the provider asked again: the account, and its groups now
        await _ask_again(server, grant, family.get("upstream"), presented)
    elif server.groups is not None:  # the groups stored at sign-in, against the mapping as it is now
        await server.groups.reapply(grant["uid"])
    return await _issue(server, grant)


async def _ask_again(server: AuthorizationServer, grant: dict[str, Any], sealed: Any, presented: str) -> None:
    try:
        resealed = await recheck.ask_again(server, grant["uid"], sealed)
    except recheck.Refused as exc:
        await server.store.revoke_family(grant["family"])
        logger.info("refresh refused after asking the sign-in provider again: uid %s", grant["uid"])
        raise GrantError("invalid_grant", f"This sign-in is no longer valid. {exc}") from None
    except recheck.Unavailable as exc:
        if exc.resealed is not None:  # the provider rotated its tokens before the failure: the retry needs them
            await server.store.set_family_upstream(grant["family"], exc.resealed)
        await server.store.rearm_refresh_token(presented)  # the retry is not a replay
        logger.warning("refresh put off, the sign-in provider could not be asked: uid %s: %s", grant["uid"], exc)
        raise GrantError(
            "temporarily_unavailable",
            f"The sign-in provider could not be asked about this account now ({exc}); no token is issued "
            f"without it. The refresh token still works: retry in {RECHECK_RETRY_AFTER} s.",
            503,
            {"Retry-After": str(RECHECK_RETRY_AFTER)},
        ) from None
    if resealed is not None:  # the provider rotated its tokens
        await server.store.set_family_upstream(grant["family"], resealed)


async def _issue(server: AuthorizationServer, grant: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": server.issuer,
        "sub": grant["uid"],
        "aud": grant["resource"],
        "iat": now,
        "exp": now + server.access_ttl,
        "jti": secrets.token_urlsafe(12),
        "client_id": grant["client_id"],
        "scope": grant["scope"],
    }
    access = await server.keys.sign(claims)
    refresh = secrets.token_urlsafe(32)
    await server.store.save_refresh_token(
        refresh, {key: grant[key] for key in ("uid", "client_id", "scope", "resource", "family")}, server.refresh_ttl
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": server.access_ttl,  # nosec B105 - 'Bearer' is the RFC 6749 token_type value
        "refresh_token": refresh,
    }
    if grant["scope"]:
        body["scope"] = grant["scope"]
    return body


async def revoke(server: AuthorizationServer, request: Request) -> Response:
    """RFC 7009: revoking a refresh token ends its family. Access tokens are short-lived JWTs and
    expire on their own; unknown tokens are answered with 200 like revoked ones."""
    try:
        form = await _form(request)
    except GrantError as exc:
        return plain_error(exc.status, exc.error, exc.description)
    presented, client_id = form.get("token"), form.get("client_id")
    if not presented or not client_id:
        return plain_error(400, "invalid_request", "token and client_id are required.")
    grant = await server.store.peek_refresh_token(presented)
    if grant is not None and grant["client_id"] == client_id:
        await server.store.revoke_family(grant["family"])
    return Response(status_code=200, headers=_NO_STORE)


async def registration(server: AuthorizationServer, request: Request, remote: str) -> Response:
    if request.method != "POST":
        return plain_error(405, "method_not_allowed", "Use POST to register a client.", {"Allow": "POST"})
    body = await request.body()  # at most the route's cap: the edge has read it (server.FORM_BYTES)
    if await server.store.count_registration(remote) > server.registration_rate:
        return plain_error(
            429,
            "too_many_requests",
            "Too many registrations from this address: retry in a minute.",
            {"Retry-After": "60"},
        )
    try:
        metadata = bounded_json.loads(body)
        _, stored = register(metadata)
    except bounded_json.JsonTooDeep as exc:
        return plain_error(400, "invalid_client_metadata", f"The registration request is refused: {exc}")
    except ValueError:
        return plain_error(
            400,
            "invalid_client_metadata",
            "The registration request must be a JSON object (UTF-8), sent as application/json.",
        )
    except ClientError as exc:
        return plain_error(400, exc.error, exc.description)
    await server.store.save_client(stored["client_id"], stored, server.client_ttl)
    return JSONResponse({**stored, "client_id_issued_at": int(time.time())}, status_code=201, headers=_NO_STORE)
