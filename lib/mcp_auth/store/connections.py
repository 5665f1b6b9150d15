"""One user's connected accounts and used connect links, reached only through this repository.

    users/{uid}/connections/{provider}        the sealed tokens and what may be shown about them (vault.py)
    users/{uid}/connect_links/{sha256(nonce)} one used connect link (links.py), created once

``UserConnections`` is bound to one user when it is built, so no caller can name another user's
documents; provider names and link digests are checked before use. Firestore failures become
``StoreUnavailable`` with the message the caller gives; lost races are typed values (``False``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, ClientFactory, bounded_retry
from mcp_auth.store.users import USERS, validate_uid

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncDocumentReference

CONNECTIONS_COLLECTION = "connections"
LINKS_COLLECTION = "connect_links"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # as provider names are configured (connections/providers.py)
UNREADABLE = "Your connected accounts cannot be read right now (Firestore unavailable); try again."


@dataclass(frozen=True, slots=True)
class Stored:
    """A document as read: its fields and its update time (the precondition of a conditional write)."""

    id: str
    data: dict[str, Any]
    update_time: datetime | None


def link_digest(nonce: str) -> str:
    """The id a connect link's nonce is recorded under (the nonce itself is never stored)."""
    return hashlib.sha256(nonce.encode()).hexdigest()


class UserConnections:
    """``users/{uid}/connections`` and ``users/{uid}/connect_links`` of one user."""

    def __init__(self, db: ClientFactory, uid: str, *, unavailable: str = UNREADABLE) -> None:
        self._db = db
        self._uid = validate_uid(uid)
        self._unavailable = unavailable

    def __repr__(self) -> str:
        return "UserConnections(<one user>)"

    @property
    def uid(self) -> str:
        return self._uid

    def _user(self) -> AsyncDocumentReference:
        ref: AsyncDocumentReference = self._db().collection(USERS).document(self._uid)
        return ref

    def _connection(self, provider: str) -> AsyncDocumentReference:
        if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
            raise ValueError("A provider name is 1-64 lower-case letters, digits, '-' and '_'.")
        ref: AsyncDocumentReference = self._user().collection(CONNECTIONS_COLLECTION).document(provider)
        return ref

    def _link(self, digest: str) -> AsyncDocumentReference:
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise ValueError("A link digest is 64 lowercase hex digits.")
        ref: AsyncDocumentReference = self._user().collection(LINKS_COLLECTION).document(digest)
        return ref

    # -- connections --------------------------------------------------------------------

    async def get(self, provider: str) -> Stored | None:
        """The connection's document, or None when the user has not connected ``provider``."""
        return await self._read(self._connection(provider))

    async def connections(self, *, limit: int = 100) -> list[Stored]:
        collection = self._user().collection(CONNECTIONS_COLLECTION)
        try:
            snaps = [s async for s in collection.limit(limit).stream(retry=bounded_retry(), timeout=TIMEOUT)]
        except _unavailable_errors() as exc:
            raise StoreUnavailable("Could not read the connected accounts (Firestore unavailable).") from exc
        return [Stored(s.id, s.to_dict() or {}, s.update_time) for s in snaps]

    async def put(self, provider: str, fields: Mapping[str, Any]) -> None:
        """Create or replace the connection."""
        try:
            await self._connection(provider).set(dict(fields), retry=bounded_retry(), timeout=TIMEOUT)
        except _unavailable_errors() as exc:
            raise StoreUnavailable(self._unavailable) from exc

    async def update(self, provider: str, fields: Mapping[str, Any], *, release_lease: bool = False) -> None:
        """Change fields of an existing connection (and, with ``release_lease``, drop its refresh lease)."""
        changes = dict(fields)
        if release_lease:
            from google.cloud.firestore_v1 import DELETE_FIELD

            changes["lease_until"] = DELETE_FIELD
        try:
            await self._connection(provider).update(changes, retry=bounded_retry(), timeout=TIMEOUT)
        except _unavailable_errors() as exc:
            raise StoreUnavailable(self._unavailable) from exc

    async def take_lease(self, provider: str, until: float, *, read: Stored) -> bool:
        """Set ``lease_until`` if the document is unchanged since ``read``; False if someone else changed it first."""
        return await self._update_unchanged(self._connection(provider), {"lease_until": until}, read)

    async def delete(self, provider: str) -> None:
        try:
            await self._connection(provider).delete(retry=bounded_retry(), timeout=TIMEOUT)
        except _unavailable_errors() as exc:
            raise StoreUnavailable(self._unavailable) from exc

    # -- connect links ------------------------------------------------------------------

    async def record_link(self, digest: str, fields: Mapping[str, Any]) -> bool:
        """Record a link's use once: False if it was recorded before."""
        from google.api_core import exceptions as api

        try:
            await self._link(digest).create(dict(fields), retry=bounded_retry(), timeout=TIMEOUT)
        except (api.AlreadyExists, api.Conflict):
            return False
        except _unavailable_errors() as exc:
            raise StoreUnavailable(self._unavailable) from exc
        return True

    async def link(self, digest: str) -> Stored | None:
        """A used link's record, or None."""
        return await self._read(self._link(digest))

    async def update_link(self, digest: str, fields: Mapping[str, Any], *, read: Stored) -> bool:
        """Change a used link's record if it is unchanged since ``read``; False if it changed or is gone."""
        return await self._update_unchanged(self._link(digest), fields, read)

    # -- inside ---------------------------------------------------------------------------

    async def _read(self, ref: AsyncDocumentReference) -> Stored | None:
        try:
            snap = await ref.get(retry=bounded_retry(), timeout=TIMEOUT)
        except _unavailable_errors() as exc:
            raise StoreUnavailable(self._unavailable) from exc
        return Stored(snap.id, snap.to_dict() or {}, snap.update_time) if snap.exists else None

    async def _update_unchanged(self, ref: AsyncDocumentReference, fields: Mapping[str, Any], read: Stored) -> bool:
        from google.api_core import exceptions as api

        try:
            await ref.update(
                dict(fields),
                option=self._db().write_option(last_update_time=read.update_time),
                retry=bounded_retry(),
                timeout=TIMEOUT,
            )
        except (api.FailedPrecondition, api.NotFound):
            return False
        except _unavailable_errors() as exc:
            raise StoreUnavailable(self._unavailable) from exc
        return True


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """What means Firestore cannot answer now (evaluated only when something was raised)."""
    from google.api_core import exceptions as api

    return (api.GoogleAPICallError, TimeoutError)
