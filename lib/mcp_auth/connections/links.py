"""Connect links: short-lived, single-use, signed for one user, one provider and one pending tool call.

    https://HOST/connect/github?link=<payload>.<signature>
      payload    base64url of {"u": uid, "p": provider, "c": call id, "n": nonce, "e": expiry (Unix s)}
      signature  base64url of HMAC-SHA256(payload) under MCP_AUTH_CONNECT_LINK_KEY_SECRET

The link is what authenticates the user on the connect page (never a bearer token in a URL): it
names the user it was minted for, it expires after ``ttl`` seconds, and ``consume`` records its nonce
in ``users/{uid}/connect_links/{sha256(nonce)}`` with a must-not-exist precondition, so it works once.
The newest key version signs; the two newest verify (rotation by adding a version). Parsing is linear
and bounded: the whole value is at most ``MAX_LINK_CHARS`` characters before anything is decoded.
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mcp_auth.connections.sealing import KeySource
from mcp_auth.credentials.model import validate_provider
from mcp_auth.errors import McpAuthError
from mcp_auth.store.connections import UserConnections, link_digest
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
        claims = {
            "u": validate_uid(uid),
            "p": validate_provider(provider),
            "c": call_id,
            "n": secrets.token_urlsafe(18),
            "e": int(self._clock()) + self._ttl,
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        key = (await self._keys())[0]
        signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
        return f"{base_url.rstrip('/')}/connect/{provider}?{urlencode({'link': f'{payload}.{signature}'})}"

    async def verify(self, link: str | None, *, provider: str) -> LinkClaims:
        """The claims of a genuine, unexpired link for ``provider``; ``LinkRefused`` otherwise."""
        if not link:
            raise LinkRefused("missing_link", "Open the connect link your client showed you.")
        if len(link) > MAX_LINK_CHARS or link.count(".") != 1:
            raise LinkRefused("malformed_link", "This connect link is not valid.")
        payload, signature = link.split(".")
        if not _B64.fullmatch(payload) or not _B64.fullmatch(signature):
            raise LinkRefused("malformed_link", "This connect link is not valid.")
        try:
            given = _unb64(signature)
        except (binascii.Error, ValueError):
            raise LinkRefused("malformed_link", "This connect link is not valid.") from None
        keys = await self._keys()
        if not any(
            hmac.compare_digest(hmac.new(k, payload.encode(), hashlib.sha256).digest(), given) for k in keys[:2]
        ):
            raise LinkRefused("invalid_link", "This connect link is not valid (altered, or signed with a retired key).")
        claims = _claims(payload)
        if claims.expires_at <= self._clock():
            raise LinkRefused("expired_link", "This connect link has expired: call the tool again for a new one.")
        if claims.provider != provider:
            raise LinkRefused("invalid_link", "This connect link is for another provider.")
        return claims

    async def consume(self, claims: LinkClaims) -> None:
        """Mark the link used (``LinkRefused`` if it was used before)."""
        store = UserConnections(
            self._db, claims.uid, unavailable="The connect link cannot be checked right now; try again in a moment."
        )
        expire = datetime.fromtimestamp(claims.expires_at, UTC) + timedelta(days=1)
        fields = {"provider": claims.provider, "used_at": datetime.now(UTC), "expire_at": expire}
        if not await store.record_link(link_digest(claims.nonce), fields):
            raise LinkRefused("used_link", "This connect link was already used: call the tool again for a new one.")


def _claims(payload: str) -> LinkClaims:
    try:
        data: Any = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        raise LinkRefused("malformed_link", "This connect link is not valid.") from None
    if not isinstance(data, dict):
        raise LinkRefused("malformed_link", "This connect link is not valid.")
    uid, provider, call, nonce, expiry = (data.get(k) for k in ("u", "p", "c", "n", "e"))
    try:
        validate_uid(uid)  # type: ignore[arg-type]
        validate_provider(provider)  # type: ignore[arg-type]
    except McpAuthError:
        raise LinkRefused("malformed_link", "This connect link is not valid.") from None
    if not (isinstance(call, str) and _CALL.fullmatch(call)) or not (isinstance(nonce, str) and _B64.fullmatch(nonce)):
        raise LinkRefused("malformed_link", "This connect link is not valid.")
    if isinstance(expiry, bool) or not isinstance(expiry, int):
        raise LinkRefused("malformed_link", "This connect link is not valid.")
    return LinkClaims(uid=uid, provider=provider, call_id=call, nonce=nonce, expires_at=expiry)  # type: ignore[arg-type]
