"""``meta/group_grants``: the group mapping ``mcp-auth groups`` edits (``oauth/groups.py`` merges and applies it).

read()          the stored ``groups`` value (None when there is no document yet)
change(edit)    read-modify-write: ``edit(stored groups)`` returns (result, new groups value); the write is
                conditional on what was read, so concurrent edits never undo each other (retried a few times)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

COLLECTION = "meta"
DOCUMENT = "group_grants"
ATTEMPTS = 3
T = TypeVar("T")


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"The group mapping could not be read ({type(exc).__name__}); retry shortly.")


class GroupMappingDocument:
    def __init__(self, client: AsyncClient | Callable[[], AsyncClient]) -> None:
        self._source = client

    @property
    def _client(self) -> AsyncClient:
        return self._source() if callable(self._source) else self._source

    def _ref(self) -> Any:
        return self._client.collection(COLLECTION).document(DOCUMENT)

    async def read(self) -> Any:
        from google.api_core import exceptions as gexc

        try:
            snap = await self._ref().get(timeout=TIMEOUT, retry=bounded_retry())
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            raise _unavailable(exc) from exc
        return (snap.to_dict() or {}).get("groups") if snap.exists else None

    async def change(self, edit: Callable[[Any], tuple[T, dict[str, Any]]]) -> T:
        from google.api_core import exceptions as gexc

        ref = self._ref()
        for _ in range(ATTEMPTS):
            try:
                snap = await ref.get(timeout=TIMEOUT, retry=bounded_retry())
                result, groups = edit((snap.to_dict() or {}).get("groups") if snap.exists else None)
                document = {"groups": groups, "updated_at": datetime.now(UTC)}
                if snap.exists:
                    option = self._client.write_option(last_update_time=snap.update_time)
                    await ref.update(document, option=option, timeout=TIMEOUT)
                else:
                    await ref.create(document, timeout=TIMEOUT)
                return result
            except (gexc.FailedPrecondition, gexc.Aborted, gexc.AlreadyExists, gexc.NotFound):
                continue  # changed since read: read again
            except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
                raise _unavailable(exc) from exc
        raise StoreUnavailable("The group mapping kept changing while it was being edited; run the command again.")
