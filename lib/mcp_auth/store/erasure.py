"""Offboarding: find, export and erase everything the framework stores about one user.

``OWNED`` is the one list of every collection the framework writes, and how a user's documents
in it are reached (``tests/store/test_erasure_registry.py`` fails when the code uses a collection
that is missing here or in ``docs/data-model.md``):

    document    the document whose id is the uid (``users/{uid}``), deleted last
    subtree     a subcollection of ``users/{uid}``; every subcollection is walked, including the
                ones a fork adds, so those need no entry
    field       a global collection whose documents name the owner in ``field``
    hashed_id   rate-limit windows: the id holds a hash of the uid (and of the tool's name)
    none        holds no uid (client registrations, counters per address, the layout marker)

Every read is a bounded page; deletes go out in batches of one page. Erasure deletes what it
finds and asks again until nothing is left, so a run that stops half-way is finished by running
it again, and a second run removes nothing. The user record goes last: while it exists, the
erasure is not complete.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.revocations import add_event
from mcp_auth.store.users import USERS, validate_uid

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient, AsyncDocumentReference, DocumentSnapshot

Reach = Literal["document", "subtree", "field", "hashed_id", "none"]
PAGE = 200
"""Documents per read and per delete batch (Firestore allows 500 writes per batch)."""
TIMEOUT = 30.0
"""Seconds one page read or one batch may take (an administrator's command, not the request path)."""


@dataclass(frozen=True, slots=True)
class Owned:
    """One collection the framework writes and how erasure and export reach a user's documents in it."""

    path: str
    reach: Reach
    field: str | None = None
    withheld: frozenset[str] = frozenset()
    """Fields left out of an export: hashes of secrets, which answer nothing about the person."""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


OWNED: tuple[Owned, ...] = (
    Owned("api_keys", "field", "uid", withheld=frozenset({"digest"})),
    Owned("oauth_families", "field", "uid"),
    Owned("oauth_refresh_tokens", "field", "uid"),
    Owned("oauth_codes", "field", "uid"),
    Owned("oauth_consents", "field", "uid"),
    Owned("identities", "field", "uid"),
    Owned("users/{uid}/notes", "subtree"),
    Owned("users/{uid}/mcp_tasks", "subtree"),
    Owned("users/{uid}/mcp_replies", "subtree"),
    Owned("users/{uid}/credential_versions", "subtree"),
    Owned("users/{uid}/credential_events", "subtree"),
    Owned("users/{uid}/connections", "subtree", withheld=frozenset({"sealed"})),
    Owned("users/{uid}/connect_links", "subtree"),
    Owned("audit", "field", "user"),
    Owned("revocations", "field", "uid"),
    Owned("rate_limits", "hashed_id"),
    Owned("oauth_requests", "none"),
    Owned("oauth_clients", "none"),
    Owned("oauth_rate", "none"),
    Owned("meta", "none"),
    Owned("users", "document"),
)
RATE_LIMITS = "rate_limits"


def window_digests(uid: str, tools: Iterable[str] = ()) -> frozenset[str]:
    """The hashes a rate-limit window id holds for ``uid`` (the ``user`` limit and each named tool's limit),
    as ``mcp_auth.ratelimit.window_id`` makes them."""
    keys = [f"user\x00{uid}", *(f"tool\x00{uid}\x00{tool}" for tool in tools)]
    return frozenset(hashlib.sha256(key.encode()).hexdigest()[:40] for key in keys)


def _is_window_of(window_id: str, digests: frozenset[str]) -> bool:
    parts = window_id.split("-")
    return len(parts) == 4 and parts[2] in digests


class UserData:
    """Export and erasure of one user's documents, across every collection in ``OWNED``."""

    def __init__(self, client: AsyncClient, uid: str, *, tools: Iterable[str] = (), page: int = PAGE) -> None:
        if not 1 <= page <= 500:
            raise ValueError(f"page must be 1-500 (a Firestore batch's limit), got {page}.")
        self._client = client
        self.uid = validate_uid(uid)
        self._digests = window_digests(self.uid, tools)
        self._page = page

    @property
    def _record(self) -> AsyncDocumentReference:
        return self._client.collection(USERS).document(self.uid)

    # -- export -----------------------------------------------------------------
    async def export(self) -> dict[str, Any]:
        """Everything stored about the user: ``{"uid", "collections": {path: [{"id", "data"}]}}``, JSON-ready."""
        found: dict[str, list[dict[str, Any]]] = {}
        async for key, owned, snap in self._documents():
            data = {k: v for k, v in (snap.to_dict() or {}).items() if owned is None or k not in owned.withheld}
            path = snap.reference.path.removeprefix(f"{USERS}/{self.uid}/")
            found.setdefault(key, []).append({"id": snap.id, "path": path, "data": jsonable(data)})
        return {"uid": self.uid, "collections": found}

    async def _documents(self) -> AsyncIterator[tuple[str, Owned | None, DocumentSnapshot[Any]]]:
        for owned in OWNED:
            if owned.reach == "field" and owned.field:
                query = self._client.collection(owned.path).where(filter=_equals(owned.field, self.uid))
                async for snap in self._pages(query):
                    yield owned.path, owned, snap
            elif owned.reach == "hashed_id":
                async for snap in self._pages(self._client.collection(owned.path)):
                    if _is_window_of(snap.id, self._digests):
                        yield owned.path, owned, snap
            elif owned.reach == "document":
                snap = await self._guard(self._record.get(timeout=TIMEOUT))
                if snap.exists:
                    yield owned.path, owned, snap
        by_name = {o.name: o for o in OWNED if o.reach == "subtree"}
        async for collection in self._subcollections():
            async for snap in self._pages(collection.recursive(), ordered=True):
                yield f"users/{{uid}}/{collection.id}", by_name.get(collection.id), snap

    async def _pages(self, query: Any, *, ordered: bool = False) -> AsyncIterator[DocumentSnapshot[Any]]:
        """Every document of ``query``, one bounded page at a time, ordered by path (``ordered``: it already is,
        as a query over all descendants is)."""
        from google.cloud.firestore_v1.field_path import FieldPath

        if not ordered:
            query = query.order_by(FieldPath.document_id())
        last = None
        while True:
            page = query.start_after(last) if last is not None else query
            snaps = await self._guard(page.limit(self._page).get(timeout=TIMEOUT))
            for snap in snaps:
                yield snap
            if len(snaps) < self._page:
                return
            last = snaps[-1]

    async def _subcollections(self) -> AsyncIterator[Any]:
        try:
            async for collection in self._record.collections():
                yield collection
        except Exception as exc:
            raise _unavailable(exc) from exc

    # -- erasure ----------------------------------------------------------------
    async def erase(self) -> dict[str, int]:
        """Delete every document of the user; returns how many were removed, per collection path."""
        removed: dict[str, int] = {}
        for owned in OWNED:
            if owned.reach == "field" and owned.field:
                query = self._client.collection(owned.path).where(filter=_equals(owned.field, self.uid))
                removed[owned.path] = await self._drain(query)
            elif owned.reach == "hashed_id":
                removed[owned.path] = await self._erase_windows(owned.path)
        async for collection in self._subcollections():
            key = f"users/{{uid}}/{collection.id}"
            removed[key] = removed.get(key, 0) + await self._drain(collection.recursive())
        snap = await self._guard(self._record.get(timeout=TIMEOUT))
        if snap.exists:  # the record goes with an event that names nobody: every instance forgets every user
            batch = self._client.batch()
            batch.delete(self._record)
            add_event(batch, self._client, None, "erased")
            await self._guard(batch.commit(timeout=TIMEOUT))
        removed[USERS] = int(snap.exists)
        return removed

    async def _drain(self, query: Any) -> int:
        """Delete what ``query`` finds, a page at a time, until it finds nothing."""
        from google.cloud.firestore_v1.field_path import FieldPath

        keys = query.select([FieldPath.document_id()]).limit(self._page)
        count = 0
        while True:
            snaps = await self._guard(keys.get(timeout=TIMEOUT))
            if not snaps:
                return count
            await self._delete([snap.reference for snap in snaps])
            count += len(snaps)

    async def _erase_windows(self, path: str) -> int:
        from google.cloud.firestore_v1.field_path import FieldPath

        doomed = []
        async for snap in self._pages(self._client.collection(path).select([FieldPath.document_id()])):
            if _is_window_of(snap.id, self._digests):
                doomed.append(snap.reference)
        for start in range(0, len(doomed), self._page):
            await self._delete(doomed[start : start + self._page])
        return len(doomed)

    async def _delete(self, refs: list[AsyncDocumentReference]) -> None:
        batch = self._client.batch()
        for ref in refs:
            batch.delete(ref)
        await self._guard(batch.commit(timeout=TIMEOUT))

    async def _guard(self, call: Any) -> Any:
        try:
            return await call
        except Exception as exc:
            raise _unavailable(exc) from exc


def _equals(field: str, value: str) -> Any:
    from google.cloud.firestore_v1.base_query import FieldFilter

    return FieldFilter(field, "==", value)


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Firestore is unavailable ({type(exc).__name__}); run the command again to resume.")


def jsonable(value: Any) -> Any:
    """A Firestore value as JSON: datetimes as RFC 3339 in UTC, bytes as base64, references as paths."""
    if isinstance(value, datetime):
        rfc3339 = getattr(value, "rfc3339", None)
        return rfc3339() if callable(rfc3339) else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return {"latitude": value.latitude, "longitude": value.longitude}
    path = getattr(value, "path", None)
    if isinstance(path, str):
        return path
    return str(value)
