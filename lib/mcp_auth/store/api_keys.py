"""API keys: ``mak_<id>_<secret>``; Firestore keeps ``api_keys/{id}`` with a keyed hash, never the secret.

The global ``api_keys`` collection exists so a key can be found by its public
id; each document holds the owner's uid, an HMAC-SHA256 of the secret keyed
with the pepper (from Secret Manager), scopes, expiry, a revoked flag and when
it was last used (written at most once a minute).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp_auth.errors import InvalidToken, StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry
from mcp_auth.store.revocations import add_event
from mcp_auth.store.users import validate_uid

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

API_KEYS = "api_keys"
PREFIX = "mak_"
_KEY = re.compile(r"^mak_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    uid: str
    digest: str
    scopes: frozenset[str]
    name: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    last_used_at: datetime | None

    def public(self) -> dict[str, Any]:
        """What may be shown: everything but the digest."""
        return {
            "id": self.key_id,
            "user": self.uid,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked": self.revoked,
            "last_used_at": _iso(self.last_used_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_key(key: str) -> tuple[str, str]:
    """Split ``mak_<id>_<secret>``; anything else is an invalid token."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise InvalidToken("The API key is malformed: expected mak_<id>_<secret> as printed by 'mcp-auth keys create'.")
    return match.group(1), match.group(2)


def digest(secret: str, pepper: bytes) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, stored: str, peppers: Sequence[bytes]) -> bool:
    """Constant-time comparison against every current pepper (rotation)."""
    found = False
    for pepper in peppers:
        found |= hmac.compare_digest(digest(secret, pepper), stored)
    return found


def new_key() -> tuple[str, str, str]:
    """(key id, secret, the full key to hand to the user once)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    key_id = "".join(secrets.choice(alphabet) for _ in range(16))
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{PREFIX}{key_id}_{secret}"


class ApiKeyRepository:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        from google.api_core import exceptions as gexc

        try:
            snap = await self._client.collection(API_KEYS).document(key_id).get(timeout=TIMEOUT, retry=bounded_retry())
        except gexc.GoogleAPIError as exc:
            raise StoreUnavailable(f"The API key store is unavailable ({type(exc).__name__}); retry shortly.") from exc
        if not snap.exists:
            return None
        return _record(key_id, snap.to_dict() or {})

    async def create(
        self, *, uid: str, scopes: Iterable[str], name: str, expires_at: datetime | None, pepper: bytes
    ) -> tuple[ApiKeyRecord, str]:
        key_id, secret, full = new_key()
        doc = {
            "uid": validate_uid(uid),
            "digest": digest(secret, pepper),
            "scopes": sorted(set(scopes)),
            "name": name,
            "created_at": datetime.now(UTC),
            "expires_at": expires_at,
            "revoked": False,
            "last_used_at": None,
        }
        await self._client.collection(API_KEYS).document(key_id).create(doc, timeout=TIMEOUT, retry=bounded_retry())
        return _record(key_id, doc), full

    async def list_for(self, uid: str) -> list[ApiKeyRecord]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client.collection(API_KEYS).where(filter=FieldFilter("uid", "==", validate_uid(uid)))
        records = [_record(snap.id, snap.to_dict() or {}) async for snap in query.stream(timeout=TIMEOUT)]
        return sorted(records, key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.key_id))

    async def revoke(self, key_id: str) -> bool:
        """Mark the key revoked, announcing it to every instance in the same write (``store/revocations.py``):
        from the next request on, no instance accepts it. False if there is no such key."""
        from google.api_core import exceptions as gexc

        ref = self._client.collection(API_KEYS).document(key_id)
        snap = await ref.get(timeout=TIMEOUT, retry=bounded_retry())
        uid = (snap.to_dict() or {}).get("uid") if snap.exists else None
        if not isinstance(uid, str):
            return False
        batch = self._client.batch()
        batch.update(ref, {"revoked": True, "revoked_at": datetime.now(UTC)})
        add_event(batch, self._client, uid, "key")
        try:
            await batch.commit(timeout=TIMEOUT, retry=bounded_retry())
        except gexc.NotFound:
            return False
        return True

    async def touch(self, key_id: str) -> None:
        await (
            self._client.collection(API_KEYS)
            .document(key_id)
            .update({"last_used_at": datetime.now(UTC)}, timeout=TIMEOUT, retry=bounded_retry())
        )


def _record(key_id: str, data: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id,
        uid=str(data.get("uid", "")),
        digest=str(data.get("digest", "")),
        scopes=frozenset(s for s in data.get("scopes") or () if isinstance(s, str)),
        name=str(data.get("name") or ""),
        created_at=data.get("created_at"),
        expires_at=data.get("expires_at"),
        revoked=bool(data.get("revoked", False)),
        last_used_at=data.get("last_used_at"),
    )
