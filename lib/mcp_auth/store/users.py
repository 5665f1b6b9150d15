"""User records: ``users/{uid}`` with status, scopes, toolsets and settings.

``UserDirectory`` reads records for the request path (cached per instance for
a short, configurable time; Firestore stays the truth) and applies the
first-login policy. ``UserRecord.version`` is the document's update time, so a
change to the record builds a fresh server for that user.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from cachetools import TTLCache

from mcp_auth.errors import DisabledUser, McpAuthError, StoreUnavailable, UnknownUser
from mcp_auth.store.firestore import TIMEOUT, bounded_retry
from mcp_auth.store.rest import Snapshot, document_reader
from mcp_auth.store.revocations import Kind, add_event

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient, AsyncDocumentReference, DocumentSnapshot

    from mcp_auth.store.revocations import RevocationWatch

Status = Literal["active", "disabled"]
USERS = "users"
_UID = re.compile(r"^[A-Za-z0-9._@:+\-|]{1,256}$")


class InvalidUserId(McpAuthError):
    status = 400


def validate_uid(uid: str) -> str:
    """User ids become document ids: reject anything Firestore would misread."""
    if not isinstance(uid, str) or not _UID.fullmatch(uid) or uid in (".", "..") or uid.startswith("__"):
        raise InvalidUserId(
            "A user id is 1-256 characters of letters, digits and . _ @ : + - |, not '.', '..' or '__…'."
        )
    return uid


@dataclass(frozen=True, slots=True)
class UserRecord:
    """``scopes`` and ``toolsets`` are what the user has: those the record grants by hand, plus those the
    user's upstream groups grant (``oauth/groups.py``) that the record does not withhold."""

    uid: str
    status: Status = "active"
    scopes: frozenset[str] = frozenset()
    toolsets: frozenset[str] = frozenset()
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    version: str = ""
    quotas: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Rate-limit overrides: ``user``, ``tool``, ``tool:<name>`` -> ``"N/unit"`` or ``"off"``."""
    tokens_valid_after: float | None = None
    """Epoch seconds of the last sign-out: a credential issued before it is refused (``users sign-out``)."""
    own_scopes: frozenset[str] | None = None
    """The scopes granted by hand (None: all of ``scopes``)."""
    own_toolsets: frozenset[str] | None = None
    """The toolsets enabled by hand (None: all of ``toolsets``)."""
    withheld_scopes: frozenset[str] = frozenset()
    """Scopes the user's groups grant that this user does not get."""
    withheld_toolsets: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()
    """The upstream groups at the last sign-in through the built-in authorization server."""
    group_grants: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """What those groups were granted at the last sign-in or refresh (``oauth/groups.py``)."""

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_document(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "scopes": sorted(self.scopes if self.own_scopes is None else self.own_scopes),
            "toolsets": sorted(self.toolsets if self.own_toolsets is None else self.own_toolsets),
            "settings": dict(self.settings),
            **({"quotas": dict(self.quotas)} if self.quotas else {}),
            **({"withheld_scopes": sorted(self.withheld_scopes)} if self.withheld_scopes else {}),
            **({"withheld_toolsets": sorted(self.withheld_toolsets)} if self.withheld_toolsets else {}),
            **({"group_grants": self.group_document()} if self.group_grants else {}),
            **(
                {"tokens_valid_after": datetime.fromtimestamp(self.tokens_valid_after, UTC)}
                if self.tokens_valid_after is not None
                else {}
            ),
        }

    def issued_before_sign_out(self, issued_at: float | None) -> bool:
        """Whether a credential issued at ``issued_at`` (None: unknown) predates the last sign-out."""
        if self.tokens_valid_after is None:
            return False
        return issued_at is None or issued_at < self.tokens_valid_after

    def group_document(self) -> dict[str, Any]:
        """``group_grants`` as stored (plain lists and dicts)."""
        grants = self.group_grants
        found = grants.get("sources")
        sources: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        return {
            "groups": list(self.groups),
            "toolsets": sorted(_strings(grants.get("toolsets"))),
            "scopes": sorted(_strings(grants.get("scopes"))),
            "sources": {
                kind: {k: list(_strings(v)) for k, v in _mapping(sources.get(kind)).items() if isinstance(k, str)}
                for kind in ("toolsets", "scopes")
            },
        }

    def explain(self) -> dict[str, dict[str, list[str]]]:
        """Where each toolset and scope comes from: ``{"toolsets": {name: [source, ...]}, "scopes": {...}}``;
        a withheld grant is listed with ``withheld`` and is not in ``toolsets``/``scopes``."""
        document = self.group_document()
        explained: dict[str, dict[str, list[str]]] = {}
        for kind, own, withheld in (
            ("toolsets", self.toolsets if self.own_toolsets is None else self.own_toolsets, self.withheld_toolsets),
            ("scopes", self.scopes if self.own_scopes is None else self.own_scopes, self.withheld_scopes),
        ):
            sources: dict[str, list[str]] = {name: ["user record"] for name in own}
            for name, groups in document["sources"][kind].items():
                entries = [f"group {group}" for group in groups]
                if name in withheld and name not in own:
                    entries = [f"withheld by the user record (granted by {', '.join(entries)})"]
                sources.setdefault(name, []).extend(entries)
            explained[kind] = dict(sorted(sources.items()))
        return explained

    @classmethod
    def from_document(cls, uid: str, data: Mapping[str, Any], update_time: datetime | None) -> UserRecord:
        status = data.get("status", "active")
        own_scopes, own_toolsets = frozenset(_strings(data.get("scopes"))), frozenset(_strings(data.get("toolsets")))
        withheld_scopes = frozenset(_strings(data.get("withheld_scopes")))
        withheld_toolsets = frozenset(_strings(data.get("withheld_toolsets")))
        grants = data.get("group_grants")
        grants = grants if isinstance(grants, Mapping) else {}
        return cls(
            uid=uid,
            status="active" if status == "active" else "disabled",
            scopes=own_scopes | (frozenset(_strings(grants.get("scopes"))) - withheld_scopes),
            toolsets=own_toolsets | (frozenset(_strings(grants.get("toolsets"))) - withheld_toolsets),
            own_scopes=own_scopes,
            own_toolsets=own_toolsets,
            withheld_scopes=withheld_scopes,
            withheld_toolsets=withheld_toolsets,
            groups=tuple(_strings(grants.get("groups"))),
            group_grants=MappingProxyType(dict(grants)),
            settings=MappingProxyType(dict(data.get("settings") or {})),
            version=update_time.isoformat() if update_time else "",
            quotas=MappingProxyType(_quotas(data.get("quotas"))),
            tokens_valid_after=_epoch(data.get("tokens_valid_after")),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _quotas(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _strings(value: Any) -> Iterable[str]:
    if not isinstance(value, list | tuple):
        return ()
    return (v for v in value if isinstance(v, str))


def _store_error(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"The user store is unavailable ({type(exc).__name__}); retry shortly.")


class UserRepository:
    """Direct reads and writes of ``users/{uid}`` (used by the CLI and the directory)."""

    def __init__(self, client: AsyncClient | Callable[[], AsyncClient]) -> None:
        """``client`` may be a callable: then the client is made on first use, on the serving loop, and
        ``get`` may read over REST instead (``rest.py``)."""
        self._source = client
        self._rest = document_reader(client)

    @property
    def _client(self) -> AsyncClient:
        return self._source() if callable(self._source) else self._source

    def _doc(self, uid: str) -> AsyncDocumentReference:
        return self._client.collection(USERS).document(validate_uid(uid))

    async def get(self, uid: str) -> UserRecord | None:
        snap: DocumentSnapshot[Any] | Snapshot | None = None
        if self._rest is not None:
            snap = await self._rest.get(USERS, validate_uid(uid))
        if snap is None:
            from google.api_core import exceptions as gexc

            try:
                snap = await self._doc(uid).get(timeout=TIMEOUT, retry=bounded_retry())
            except gexc.GoogleAPIError as exc:
                raise _store_error(exc) from exc
        if not snap.exists:
            return None
        return UserRecord.from_document(uid, snap.to_dict() or {}, snap.update_time)

    async def create(self, record: UserRecord) -> UserRecord:
        """Create the record; if it already exists (a concurrent first login), return the stored one."""
        from google.api_core import exceptions as gexc

        now = datetime.now(UTC)
        doc = {**record.to_document(), "created_at": now, "updated_at": now}
        try:
            await self._doc(record.uid).create(doc, timeout=TIMEOUT, retry=bounded_retry())
        except gexc.AlreadyExists:
            pass
        except gexc.GoogleAPIError as exc:
            raise _store_error(exc) from exc
        stored = await self.get(record.uid)
        if stored is None:  # deleted in between: report as unavailable, the client may retry
            raise StoreUnavailable("The user record vanished while it was being created; retry.")
        return stored

    async def update(self, uid: str, *, kind: Kind = "record", **fields: Any) -> UserRecord:
        """Update named fields of an existing record; raises UnknownUser if there is none. The change is
        announced to every instance in the same write (``store/revocations.py``), so it holds from the next
        request on, wherever that lands."""
        from google.api_core import exceptions as gexc

        fields["updated_at"] = datetime.now(UTC)
        batch = self._client.batch()
        batch.update(self._doc(uid), fields)
        add_event(batch, self._client, uid, kind)
        try:
            await batch.commit(timeout=TIMEOUT, retry=bounded_retry())
        except gexc.NotFound:
            raise UnknownUser(f"No user record {uid!r}: create it first.") from None
        except gexc.GoogleAPIError as exc:
            raise _store_error(exc) from exc
        stored = await self.get(uid)
        if stored is None:
            raise UnknownUser(f"No user record {uid!r}: create it first.")
        return stored

    async def sign_out(self, uid: str) -> UserRecord:
        """Refuse every credential of ``uid`` issued before now (``tokens_valid_after``, Firestore's time)."""
        from google.cloud.firestore import SERVER_TIMESTAMP

        return await self.update(uid, kind="sign_out", tokens_valid_after=SERVER_TIMESTAMP)

    async def change(
        self,
        uid: str,
        field: Literal["scopes", "toolsets", "withheld_scopes", "withheld_toolsets"],
        values: Iterable[str],
        *,
        remove: bool = False,
    ) -> UserRecord:
        """Add (or remove) values of a list field atomically: concurrent changes never undo each other."""
        from google.cloud.firestore_v1 import ArrayRemove, ArrayUnion

        operation = ArrayRemove if remove else ArrayUnion
        change: dict[str, Any] = {field: operation(sorted(set(values)))}
        return await self.update(uid, **change)

    async def delete(self, uid: str) -> bool:
        """Delete the record only (what it holds, not the user's other data); False if there was none."""
        from google.api_core import exceptions as gexc

        ref = self._doc(uid)
        try:
            snap = await ref.get(timeout=TIMEOUT, retry=bounded_retry())
            if snap.exists:
                batch = self._client.batch()
                batch.delete(ref)
                add_event(batch, self._client, uid, "deleted")
                await batch.commit(timeout=TIMEOUT, retry=bounded_retry())
        except gexc.GoogleAPIError as exc:
            raise _store_error(exc) from exc
        return bool(snap.exists)

    async def page(
        self, *, status: Status | None = None, toolset: str | None = None, size: int = 100, after: str | None = None
    ) -> tuple[list[UserRecord], str | None]:
        """Up to ``size`` records in uid order after the uid ``after``, and the cursor of the next page (None
        on the last). One filter runs in Firestore (the toolset if given, else the status), the other here,
        so no composite index is needed; a page may then hold fewer than ``size`` records."""
        from google.api_core import exceptions as gexc
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.field_path import FieldPath

        if not 1 <= size <= 500:
            raise ValueError(f"size must be 1-500, got {size}.")
        query = self._client.collection(USERS).order_by(FieldPath.document_id())
        if toolset is not None:
            query = query.where(filter=FieldFilter("toolsets", "array_contains", toolset))
        elif status is not None:
            query = query.where(filter=FieldFilter("status", "==", status))
        if after is not None:
            query = query.start_after({FieldPath.document_id(): self._doc(after)})
        try:
            snaps = await query.limit(size).get(timeout=TIMEOUT, retry=bounded_retry())
        except gexc.GoogleAPIError as exc:
            raise _store_error(exc) from exc
        records = [UserRecord.from_document(s.id, s.to_dict() or {}, s.update_time) for s in snaps]
        if status is not None:
            records = [r for r in records if r.status == status]
        return records, (snaps[-1].id if len(snaps) == size else None)


class UserDirectory:
    """The request path's view of user records: cached, with the first-login policy."""

    def __init__(
        self,
        repository: UserRepository,
        *,
        first_login: Literal["create", "reject"] = "reject",
        default_scopes: Iterable[str] = (),
        default_toolsets: Iterable[str] = (),
        cache_ttl: float = 30.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._first_login = first_login
        self._defaults = UserRecord(uid="_", scopes=frozenset(default_scopes), toolsets=frozenset(default_toolsets))
        self._ttl = cache_ttl
        # uid -> (when it was read, the record)
        self._cache: TTLCache[str, tuple[float, UserRecord]] = TTLCache(maxsize=cache_size, ttl=cache_ttl, timer=clock)
        self._inflight: dict[str, asyncio.Future[UserRecord]] = {}
        self._trusts: Callable[[float], bool] | None = None
        self._forgotten = 0  # counts forget() calls: a read that began before one is not cached

    def follow(self, watch: RevocationWatch) -> None:
        """Keep the cache fresh through ``watch``: an event forgets the user's record at once, and while the
        watch is not live a cached record is trusted only briefly (``RevocationWatch.trusts``)."""
        self._trusts = watch.trusts
        watch.subscribe(self.forget)

    async def load(self, uid: str) -> UserRecord:
        """The active record for ``uid``; raises UnknownUser or DisabledUser (both 403)."""
        entry = self._cache.get(uid) if self._ttl > 0 else None
        if entry is not None and (self._trusts is None or self._trusts(self._clock() - entry[0])):
            record = entry[1]
        else:
            record = await self._load_shared(uid)
        if not record.active:
            raise DisabledUser()
        return record

    async def _load_shared(self, uid: str) -> UserRecord:
        pending = self._inflight.get(uid)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[UserRecord] = asyncio.get_running_loop().create_future()
        self._inflight[uid] = future
        generation = self._forgotten
        try:
            record = await self._fetch(uid)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._inflight.pop(uid, None)
        future.set_result(record)
        if self._ttl > 0 and generation == self._forgotten:
            self._cache[uid] = (self._clock(), record)
        return record

    async def _fetch(self, uid: str) -> UserRecord:
        record = await self._repo.get(uid)
        if record is not None:
            return record
        if self._first_login == "reject":
            raise UnknownUser()
        new = UserRecord(uid=uid, scopes=self._defaults.scopes, toolsets=self._defaults.toolsets)
        return await self._repo.create(new)

    async def probe(self) -> None:
        """One cheap read that proves Firestore answers; raises StoreUnavailable if not."""
        await self._repo.get("_readiness-probe")

    def forget(self, uid: str | None) -> None:
        """Drop the cached record of ``uid`` (None: of every user)."""
        self._forgotten += 1
        if uid is None:
            self._cache.clear()
        else:
            self._cache.pop(uid, None)
