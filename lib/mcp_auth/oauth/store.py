"""Everything the authorization server remembers, in global Firestore collections.

Documents are keyed by the SHA-256 of the secret they stand for (state, code,
refresh token) and hold owner uids and request parameters, never the secret.
Every document has ``expires_at``, the field of its collection's TTL policy.
A key that Firestore would refuse as a document id (a ``/``, ``__x__``, over 1,500 bytes)
names no document: reads find nothing, and it never reaches Firestore.

    oauth_clients           dynamically registered clients (id -> metadata)
    oauth_requests          authorization requests waiting for the upstream sign-in
    oauth_consents          signed-in users on the consent page (single use)
    oauth_codes             authorization codes (single use)
    oauth_refresh_tokens    refresh tokens (single use; rotation)
    oauth_families          one per sign-in: revoking it ends every refresh token issued from it; holds what
                            the sign-in keeps to ask the provider again at refresh (``upstream``, sealed:
                            ``recheck.py``), dropped when the family is revoked
    oauth_rate              registration counters per client address and minute
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry, firestore_client

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

CLIENTS = "oauth_clients"
REQUESTS = "oauth_requests"
CONSENTS = "oauth_consents"
CODES = "oauth_codes"
REFRESH_TOKENS = "oauth_refresh_tokens"
FAMILIES = "oauth_families"
RATE = "oauth_rate"
COLLECTIONS = (CLIENTS, REQUESTS, CONSENTS, CODES, REFRESH_TOKENS, FAMILIES, RATE)
TTL_FIELD = "expires_at"
MAX_ID_BYTES = 1500


class InvalidKey(ValueError):
    """A key that cannot be a Firestore document id."""


def document_id(key: str) -> str:
    """``key`` if Firestore accepts it as a document id, else ``InvalidKey`` saying why."""
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        raise InvalidKey("A document id must be valid UTF-8.") from None
    if not key or size > MAX_ID_BYTES:
        raise InvalidKey(f"A document id must be 1 to {MAX_ID_BYTES} bytes long.")
    if "/" in key or key in (".", "..") or (key.startswith("__") and key.endswith("__")):
        raise InvalidKey("A document id must not contain '/', be '.' or '..', or look like __name__.")
    return key


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _revoked() -> dict[str, Any]:
    """A revoked family's fields: its sealed upstream credential is dropped with it."""
    from google.cloud import firestore

    return {"revoked": True, "revoked_at": _now(), "upstream": firestore.DELETE_FIELD}


class OAuthStore:
    """Firestore access for the authorization server; every call may raise ``StoreUnavailable``."""

    def __init__(self, client: AsyncClient | Callable[[], AsyncClient]) -> None:
        self._client = client

    @classmethod
    def for_settings(cls, *, project: str | None, database: str) -> OAuthStore:
        return cls(lambda: firestore_client(project=project, database=database))

    @property
    def client(self) -> AsyncClient:
        return self._client() if callable(self._client) else self._client

    def _doc(self, collection: str, key: str) -> Any:
        return self.client.collection(collection).document(document_id(key))

    async def _guard(self, call: Any) -> Any:
        from google.api_core import exceptions as gexc

        try:
            return await call
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            raise StoreUnavailable(f"The authorization store is unavailable ({type(exc).__name__}); retry.") from exc

    async def _get(self, collection: str, key: str) -> dict[str, Any] | None:
        try:
            ref = self._doc(collection, key)
        except InvalidKey:
            return None  # no document can have this id
        snap = await self._guard(ref.get(timeout=TIMEOUT, retry=bounded_retry()))
        if not snap.exists:
            return None
        data = snap.to_dict()
        expires = data.get(TTL_FIELD)
        return None if expires is not None and expires <= _now() else data  # TTL deletion is lazy

    async def _set(self, collection: str, key: str, data: dict[str, Any], ttl: float) -> None:
        doc = {**data, TTL_FIELD: _now() + timedelta(seconds=ttl)}
        await self._guard(self._doc(collection, key).set(doc, timeout=TIMEOUT, retry=bounded_retry()))

    # -- registered clients ---------------------------------------------------
    async def save_client(self, client_id: str, metadata: dict[str, Any], ttl: float) -> None:
        await self._set(CLIENTS, client_id, {"metadata": metadata, "created_at": _now()}, ttl)

    async def load_client(self, client_id: str) -> dict[str, Any] | None:
        data = await self._get(CLIENTS, client_id)
        return data["metadata"] if data else None

    # -- authorization requests in flight ----------------------------------------
    async def save_request(self, state: str, request: dict[str, Any], ttl: float) -> None:
        await self._set(REQUESTS, digest(state), request, ttl)

    async def take_request(self, state: str) -> dict[str, Any] | None:
        return await self._take(REQUESTS, digest(state))

    # -- signed-in users asked for consent ------------------------------------
    async def save_consent(self, approval: str, request: dict[str, Any], ttl: float) -> None:
        await self._set(CONSENTS, digest(approval), request, ttl)

    async def take_consent(self, approval: str) -> dict[str, Any] | None:
        return await self._take(CONSENTS, digest(approval))

    # -- codes -----------------------------------------------------------------
    async def save_code(self, code: str, grant: dict[str, Any], ttl: float) -> None:
        await self._set(CODES, digest(code), {**grant, "used": False}, ttl)

    async def redeem_code(self, code: str) -> tuple[dict[str, Any] | None, bool]:
        """(grant, replayed): the grant once; a second redemption returns it with replayed=True."""
        return await self._use_once(CODES, digest(code))

    # -- refresh tokens and their families ------------------------------------
    async def new_family(self, uid: str, client_id: str, ttl: float, *, upstream: str | None = None) -> str:
        """A new sign-in of ``uid``; ``upstream`` is the sealed credential to ask its provider again with."""
        family = secrets.token_urlsafe(16)
        data: dict[str, Any] = {"uid": uid, "client_id": client_id, "revoked": False}
        if upstream is not None:
            data["upstream"] = upstream
        await self._set(FAMILIES, family, data, ttl)
        return family

    async def load_family(self, family: str) -> dict[str, Any] | None:
        return await self._get(FAMILIES, family)

    async def set_family_upstream(self, family: str, upstream: str) -> None:
        """Replace the family's sealed upstream credential (the provider rotated its refresh token)."""
        await self._guard(
            self._doc(FAMILIES, family).update({"upstream": upstream}, timeout=TIMEOUT, retry=bounded_retry())
        )

    async def rearm_refresh_token(self, token: str) -> None:
        """Make a refresh token usable again after a refresh that could not complete (the provider was
        unreachable), so that the client's retry is not taken for a replay."""
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        try:
            await self._guard(
                self._doc(REFRESH_TOKENS, digest(token)).update(
                    {"used": False, "used_at": firestore.DELETE_FIELD}, timeout=TIMEOUT, retry=bounded_retry()
                )
            )
        except StoreUnavailable as exc:
            if not isinstance(exc.__cause__, gexc.NotFound):
                raise

    async def save_refresh_token(self, token: str, grant: dict[str, Any], ttl: float) -> None:
        await self._set(REFRESH_TOKENS, digest(token), {**grant, "used": False}, ttl)

    async def use_refresh_token(self, token: str) -> tuple[dict[str, Any] | None, bool]:
        return await self._use_once(REFRESH_TOKENS, digest(token))

    async def peek_refresh_token(self, token: str) -> dict[str, Any] | None:
        return await self._get(REFRESH_TOKENS, digest(token))

    async def family_active(self, family: str) -> bool:
        data = await self._get(FAMILIES, family)
        return data is not None and bool(data) and not data["revoked"]

    async def revoke_family(self, family: str) -> None:
        await self._guard(
            self._doc(FAMILIES, family).set(_revoked(), merge=True, timeout=TIMEOUT, retry=bounded_retry())
        )

    async def revoke_user_families(self, uid: str, *, page: int = 200) -> int:
        """End every sign-in of ``uid`` (each family's refresh tokens stop working); returns how many."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.client.collection(FAMILIES)
            .where(filter=FieldFilter("uid", "==", uid))
            .where(filter=FieldFilter("revoked", "==", False))
            .limit(page)
        )
        count = 0
        while snaps := await self._guard(query.get(timeout=TIMEOUT, retry=bounded_retry())):
            batch = self.client.batch()
            for snap in snaps:
                batch.update(snap.reference, _revoked())
            await self._guard(batch.commit(timeout=TIMEOUT, retry=bounded_retry()))
            count += len(snaps)
        return count

    # -- registration rate limit -------------------------------------------------
    async def count_registration(self, address: str) -> int:
        """Count one registration from ``address`` in the current minute; returns the minute's count."""
        from google.cloud import firestore

        minute = int(_now().timestamp() // 60)
        ref = self._doc(RATE, digest(f"{address}|{minute}"))
        await self._guard(
            ref.set(
                {"count": firestore.Increment(1), TTL_FIELD: _now() + timedelta(minutes=2)},
                merge=True,
                timeout=TIMEOUT,
                retry=bounded_retry(),
            )
        )
        snap = await self._guard(ref.get(timeout=TIMEOUT, retry=bounded_retry()))
        return int(snap.get("count"))

    # -- single use ------------------------------------------------------------
    async def _take(self, collection: str, key: str) -> dict[str, Any] | None:
        data, replayed = await self._use_once(collection, key)
        return None if replayed else data

    async def _use_once(self, collection: str, key: str) -> tuple[dict[str, Any] | None, bool]:
        """Mark a document used, at most once across all instances: the write carries the read's
        update time as a precondition, so of two concurrent uses exactly one succeeds."""
        from google.api_core import exceptions as gexc

        ref = self._doc(collection, key)
        snap = await self._guard(ref.get(timeout=TIMEOUT, retry=bounded_retry()))
        if not snap.exists:
            return None, False
        data = snap.to_dict()
        if data.get(TTL_FIELD) is not None and data[TTL_FIELD] <= _now():
            return None, False
        if data.get("used"):
            return data, True
        option = self.client.write_option(last_update_time=snap.update_time)
        try:
            await ref.update({"used": True, "used_at": _now()}, option=option, timeout=TIMEOUT)
        except (gexc.FailedPrecondition, gexc.Aborted, gexc.NotFound):
            return data, True  # another request used it first
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            raise StoreUnavailable(f"The authorization store is unavailable ({type(exc).__name__}); retry.") from exc
        return data, False
