"""Connect links: short-lived, single-use, signed for one user, one provider and one pending tool call.

    https://HOST/connect/github?link=<payload>.<signature>
      payload    base64url of {"u": uid, "p": provider, "c": call id, "n": nonce, "e": expiry (Unix s)}
      signature  base64url of HMAC-SHA256(payload) under MCP_AUTH_CONNECT_LINK_KEY_SECRET

The link is what authenticates the user on the connect page (never a bearer token in a URL): it
names the user it was minted for, it expires after ``ttl`` seconds, and ``consume`` records its nonce
in ``users/{uid}/connect_links/{sha256(nonce)}`` with a must-not-exist precondition, so it works once.
The newest key version signs; the two newest verify (rotation by adding a version). Parsing is linear
and bounded: the whole value is at most ``MAX_LINK_CHARS`` characters before anything is decoded.

The OAuth ``state`` sent to the provider once the link is used carries the same claims with a fresh
expiry, signed over ``"mcp-auth connect state\\0" + payload`` so a state never passes as a link nor a link
as a state. The used link's record is where the connection's pending parts wait (the sealed PKCE
verifier, the browser binding's hash); ``pending`` reads it and ``finish`` closes it once, with an
update-time precondition, so a state answers one callback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mcp_auth.connections.sealing import KeySource
from mcp_auth.credentials.model import validate_provider
from mcp_auth.errors import McpAuthError
from mcp_auth.store.connections import Stored, UserConnections, link_digest
from mcp_auth.store.users import validate_uid

if TYPE_CHECKING:
    from mcp_auth.store.firestore import ClientFactory

MAX_LINK_CHARS = 1024
_B64 = re.compile(r"[A-Za-z0-9_-]{1,900}")
_CALL = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class LinkRefused(McpAuthError):
    """A connect link (or state) that is malformed, forged, expired, for another provider, or used."""

    status = 400

    def __init__(self, error: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


@dataclass(frozen=True, slots=True)
class LinkClaims:
    uid: str
    provider: str
    call_id: str
    nonce: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ConnectLinks:
    """Mints, verifies and consumes connect links."""

    def __init__(
        self,
        *,
        keys: KeySource,
        db: ClientFactory,
        ttl: int = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 60 <= ttl <= 3600:
            raise ValueError(f"ttl must be 60-3600 seconds, got {ttl}")
        self._keys = keys
        self._db = db
        self._ttl = ttl
        self._clock = clock

    def __repr__(self) -> str:
        return f"ConnectLinks(ttl={self._ttl})"

    async def mint(self, *, base_url: str, uid: str, provider: str, call_id: str) -> str:
        """The URL the user opens to connect ``provider``: ``{base_url}/connect/{provider}?link=…``."""
        if not _CALL.fullmatch(call_id):
            raise ValueError("call_id must be 1-128 letters, digits and . _ : -")
        claims = LinkClaims(
            uid=validate_uid(uid),
            provider=validate_provider(provider),
            call_id=call_id,
            nonce=secrets.token_urlsafe(18),
            expires_at=int(self._clock()) + self._ttl,
        )
        link = await self._sign(claims, LINK)
        return f"{base_url.rstrip('/')}/connect/{provider}?{urlencode({'link': link})}"

    async def verify(self, link: str | None, *, provider: str) -> LinkClaims:
        """The claims of a genuine, unexpired link for ``provider``; ``LinkRefused`` otherwise."""
        return await self._open(link, provider, LINK)

    async def state(self, claims: LinkClaims) -> str:
        """The OAuth ``state`` of a connection started with a used link: the same claims, a fresh expiry,
        signed for another purpose (a state is never a link, nor a link a state)."""
        return await self._sign(replace(claims, expires_at=int(self._clock()) + self._ttl), STATE)

    async def verify_state(self, state: str | None, *, provider: str) -> LinkClaims:
        return await self._open(state, provider, STATE)

    async def consume(self, claims: LinkClaims, fields: Mapping[str, Any] | None = None) -> None:
        """Mark the link used, with ``fields`` beside it (``LinkRefused`` if it was used before)."""
        expire = datetime.fromtimestamp(claims.expires_at, UTC) + timedelta(days=1)
        record = {**(fields or {}), "provider": claims.provider, "used_at": datetime.now(UTC), "expire_at": expire}
        if not await self._store(claims).record_link(link_digest(claims.nonce), record):
            raise LinkRefused("used_link", _USED)

    async def refuse_used(self, claims: LinkClaims) -> None:
        """``LinkRefused`` if the link was used already (one read: the page says so before asking anything)."""
        if await self._store(claims).link(link_digest(claims.nonce)) is not None:
            raise LinkRefused("used_link", _USED)

    async def pending(self, claims: LinkClaims) -> Stored:
        """The record of a used link whose connection is not finished (``LinkRefused`` otherwise)."""
        record = await self._store(claims).link(link_digest(claims.nonce))
        if record is None or record.data.get("provider") != claims.provider or record.data.get("finished_at"):
            raise LinkRefused("used_state", "This connection was already finished: call the tool again if needed.")
        return record

    async def finish(self, claims: LinkClaims, record: Stored, fields: Mapping[str, Any]) -> None:
        """Mark the connection finished, once: ``LinkRefused`` when another request finished it first."""
        done = {**fields, "finished_at": datetime.now(UTC)}
        if not await self._store(claims).update_link(link_digest(claims.nonce), done, read=record):
            raise LinkRefused("used_state", "This connection was already finished: call the tool again if needed.")

    # -- inside -------------------------------------------------------------------------

    def _store(self, claims: LinkClaims) -> UserConnections:
        return UserConnections(self._db, claims.uid, unavailable=_UNAVAILABLE)

    async def _sign(self, claims: LinkClaims, purpose: _Purpose) -> str:
        body = {"u": claims.uid, "p": claims.provider, "c": claims.call_id, "n": claims.nonce, "e": claims.expires_at}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        key = (await self._keys())[0]
        return f"{payload}.{_b64(_mac(key, purpose, payload))}"

    async def _open(self, value: str | None, provider: str, purpose: _Purpose) -> LinkClaims:
        kind = purpose.kind
        if not value:
            raise LinkRefused(f"missing_{kind}", purpose.missing)
        if len(value) > MAX_LINK_CHARS or value.count(".") != 1:
            raise LinkRefused(f"malformed_{kind}", purpose.invalid)
        payload, signature = value.split(".")
        if not _B64.fullmatch(payload) or not _B64.fullmatch(signature):
            raise LinkRefused(f"malformed_{kind}", purpose.invalid)
        try:
            given = _unb64(signature)
        except (binascii.Error, ValueError):
            raise LinkRefused(f"malformed_{kind}", purpose.invalid) from None
        keys = await self._keys()
        if not any(hmac.compare_digest(_mac(k, purpose, payload), given) for k in keys[:2]):
            raise LinkRefused(f"invalid_{kind}", f"{purpose.invalid[:-1]} (altered, or signed with a retired key).")
        claims = _claims(payload, purpose)
        if claims.expires_at <= self._clock():
            raise LinkRefused(f"expired_{kind}", purpose.expired)
        if claims.provider != provider:
            raise LinkRefused(f"invalid_{kind}", f"{purpose.invalid[:-1]}: it is for another provider.")
        return claims


@dataclass(frozen=True, slots=True)
class _Purpose:
    kind: str
    prefix: bytes
    missing: str
    invalid: str
    expired: str


LINK = _Purpose(
    "link",
    b"",
    "Open the connect link your client showed you.",
    "This connect link is not valid.",
    "This connect link has expired: call the tool again for a new one.",
)
STATE = _Purpose(
    "state",
    b"mcp-auth connect state\x00",
    "The provider sent you back without the state this server gave it: start again from your client.",
    "This answer from the provider is not valid.",
    "Connecting took too long: call the tool again for a new link.",
)
_USED = "This connect link was already used: call the tool again for a new one."
_UNAVAILABLE = "The connect link cannot be checked right now; try again in a moment."


def _mac(key: bytes, purpose: _Purpose, payload: str) -> bytes:
    return hmac.new(key, purpose.prefix + payload.encode(), hashlib.sha256).digest()


def _claims(payload: str, purpose: _Purpose = LINK) -> LinkClaims:
    try:
        data: Any = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        raise LinkRefused(f"malformed_{purpose.kind}", purpose.invalid) from None
    if not isinstance(data, dict):
        raise LinkRefused(f"malformed_{purpose.kind}", purpose.invalid)
    uid, provider, call, nonce, expiry = (data.get(k) for k in ("u", "p", "c", "n", "e"))
    try:
        validate_uid(uid)  # type: ignore[arg-type]
        validate_provider(provider)  # type: ignore[arg-type]
    except McpAuthError:
        raise LinkRefused(f"malformed_{purpose.kind}", purpose.invalid) from None
    if not (isinstance(call, str) and _CALL.fullmatch(call)) or not (isinstance(nonce, str) and _B64.fullmatch(nonce)):
        raise LinkRefused(f"malformed_{purpose.kind}", purpose.invalid)
    if isinstance(expiry, bool) or not isinstance(expiry, int):
        raise LinkRefused(f"malformed_{purpose.kind}", purpose.invalid)
    return LinkClaims(uid=uid, provider=provider, call_id=call, nonce=nonce, expires_at=expiry)  # type: ignore[arg-type]
