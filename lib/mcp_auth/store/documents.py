"""One user's collection: ``users/{uid}/{name}/{id}``, reached only through a ``UserStore``.

    create(data, request_id=)   idempotent: the document id derives from the request id, so a
                                retried create returns the first result instead of a duplicate
    get(id)                     a foreign, guessed or malformed id answers exactly like a missing one
    update(id, changes, version=)  optimistic concurrency: the write carries an ``update_time``
                                precondition; a stale version is a ``Conflict``, never a lost update
    delete(id, version=)
    page(order_by=, ...)        cursor pagination with a stable order (the field, then the id)

Firestore failures become ``StoreUnavailable`` (retryable); nothing here takes a path or a uid.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mcp_auth.errors import McpAuthError, StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry
from mcp_auth.store.pagination import Cursor, page_size

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient, AsyncCollectionReference, AsyncDocumentReference

_COLLECTION = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DOC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_RESERVED = frozenset({"request_id", "created_at", "updated_at"})
Op = Literal["==", "array_contains", ">=", "<"]


class NotFound(McpAuthError):
    status = 404


class Conflict(McpAuthError):
    status = 409


class InvalidRequestId(McpAuthError):
    status = 400


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    data: Mapping[str, Any]
    version: str
    """The document's update time (ISO 8601): pass it back to update or delete it."""


def unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"The data store is unavailable ({type(exc).__name__}); retry shortly.")


def document_id(collection: str, request_id: str) -> str:
    """The deterministic id of the document a request id creates."""
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise InvalidRequestId("A request id is 1-128 characters of letters, digits and . _ : -.")
    return hashlib.sha256(f"{collection}\x00{request_id}".encode()).hexdigest()[:24]


class UserCollection:
    """Documents of one collection that belongs to one user."""

    def __init__(self, client: AsyncClient, uid: str, name: str) -> None:
        if not _COLLECTION.fullmatch(name or ""):
            raise ValueError(f"Collection names are lowercase identifiers (letters, digits, _), got {name!r}.")
        self._client = client
        self._name = name
        self._ref: AsyncCollectionReference = client.collection("users").document(uid).collection(name)
        self._missing = f"No {name[:-1] if name.endswith('s') else name} with that id."

    @property
    def name(self) -> str:
        return self._name

    def _doc(self, doc_id: str) -> AsyncDocumentReference:
        if not isinstance(doc_id, str) or not _DOC_ID.fullmatch(doc_id) or doc_id.startswith("__"):
            raise NotFound(self._missing)  # a malformed id is answered like a missing one
        return self._ref.document(doc_id)

    async def get(self, doc_id: str) -> Document:
        from google.api_core import exceptions as gexc

        ref = self._doc(doc_id)
        try:
            snap = await ref.get(timeout=TIMEOUT, retry=bounded_retry())
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc
        if not snap.exists:
            raise NotFound(self._missing)
        return _document(snap.id, snap.to_dict() or {}, snap.update_time)

    async def create(self, data: Mapping[str, Any], *, request_id: str | None = None) -> Document:
        """Create a document; a repeated ``request_id`` returns the document the first call created."""
        from google.api_core import exceptions as gexc

        if _RESERVED & data.keys():
            raise ValueError(f"Fields {sorted(_RESERVED)} are kept by the store.")
        request_id = request_id or uuid.uuid4().hex
        doc_id = document_id(self._name, request_id)
        now = datetime.now(UTC)
        body = {**data, "request_id": request_id, "created_at": now, "updated_at": now}
        try:
            result = await self._ref.document(doc_id).create(body, timeout=TIMEOUT, retry=bounded_retry())
        except gexc.AlreadyExists:
            return await self.get(doc_id)  # a retry (ours or the client's) of a create that succeeded
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc
        return _document(doc_id, body, result.update_time)

    async def update(self, doc_id: str, changes: Mapping[str, Any], *, version: str) -> Document:
        """Apply ``changes`` if the document is still at ``version``; otherwise raise ``Conflict``."""
        from google.api_core import exceptions as gexc

        if _RESERVED & changes.keys():
            raise ValueError(f"Fields {sorted(_RESERVED)} are kept by the store.")
        current = await self.get(doc_id)
        if current.version != version:
            raise _conflict()
        fields = {**changes, "updated_at": datetime.now(UTC)}
        option = self._client.write_option(last_update_time=timestamp_of(current.version))
        try:
            result = await self._doc(doc_id).update(fields, option=option, timeout=TIMEOUT, retry=bounded_retry())
        except gexc.NotFound:
            raise NotFound(self._missing) from None
        except gexc.FailedPrecondition:
            raise _conflict() from None
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc
        return _document(doc_id, {**current.data, **fields}, result.update_time)

    async def delete(self, doc_id: str, *, version: str | None = None) -> None:
        """Delete the document (only if still at ``version`` when one is given)."""
        from google.api_core import exceptions as gexc

        current = await self.get(doc_id)
        if version is not None and current.version != version:
            raise _conflict()
        option = self._client.write_option(last_update_time=timestamp_of(current.version))
        try:
            await self._doc(doc_id).delete(option=option, timeout=TIMEOUT, retry=bounded_retry())
        except (gexc.FailedPrecondition, gexc.NotFound):
            raise _conflict() from None
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc

    async def page(
        self,
        *,
        order_by: str,
        descending: bool = True,
        where: Sequence[tuple[str, Op, Any]] = (),
        size: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[Document], str | None]:
        """One page in a stable order (``order_by``, then the document id) and the cursor of the next."""
        from google.api_core import exceptions as gexc
        from google.cloud.firestore_v1 import Query
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.field_path import FieldPath

        limit = page_size(size)
        kind = f"{self._name}:{order_by}:{'d' if descending else 'a'}"
        direction = Query.DESCENDING if descending else Query.ASCENDING
        query: Any = self._ref
        for field, op, value in where:
            query = query.where(filter=FieldFilter(field, op, value))
        query = query.order_by(order_by, direction=direction).order_by(FieldPath.document_id(), direction=direction)
        if cursor is not None:
            position = Cursor.decode(cursor, kind=kind)
            query = query.start_after({order_by: position.value, "__name__": position.doc_id})
        query = query.limit(limit + 1)
        try:
            snaps = [snap async for snap in query.stream(timeout=TIMEOUT, retry=bounded_retry())]
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc
        docs = [_document(s.id, s.to_dict() or {}, s.update_time) for s in snaps[:limit]]
        next_cursor = None
        if len(snaps) > limit:
            last = docs[-1]
            next_cursor = Cursor(value=last.data[order_by], doc_id=last.id, kind=kind).encode()
        return docs, next_cursor


def _conflict() -> Conflict:
    return Conflict(
        "It was changed since you read it: get it again, reapply your change, and retry with the new version."
    )


def version_of(update_time: datetime | None) -> str:
    """RFC 3339 with nanoseconds: Firestore's update times are finer than a microsecond."""
    if update_time is None:
        return ""
    rfc3339 = getattr(update_time, "rfc3339", None)
    return rfc3339() if callable(rfc3339) else update_time.isoformat()


def timestamp_of(version: str) -> datetime:
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    parsed: datetime = DatetimeWithNanoseconds.from_rfc3339(version)  # type: ignore[no-untyped-call]
    return parsed


def _document(doc_id: str, data: Mapping[str, Any], update_time: datetime | None) -> Document:
    return Document(id=doc_id, data=dict(data), version=version_of(update_time))
