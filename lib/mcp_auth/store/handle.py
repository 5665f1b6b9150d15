"""The store handle bound to one user: the only way tool code reaches Firestore.

    store = user_store()                 # mcp_auth.context: bound to current_user(); takes no uid
    notes = store.collection("notes")    # users/{uid}/notes, nothing else
    settings, version = await store.settings()
    await store.update_settings({"timezone": "Europe/Paris"}, version=version)

A handle cannot name another user's data: the uid comes from the request's
principal, collection names are single identifiers (no slashes, no paths),
and document ids are checked before use. Its errors (``NotFound``, ``Conflict``,
``StoreUnavailable``) say what to do (retry, re-read, ...); the framework turns them
into MCP errors wherever a toolset's handler lets them through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp_auth.store.documents import Conflict, NotFound, UserCollection, timestamp_of, unavailable, version_of
from mcp_auth.store.firestore import TIMEOUT, bounded_retry, firestore_client
from mcp_auth.store.users import USERS, validate_uid

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

_SETTING = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class UserStore:
    """Everything one user owns, under ``users/{uid}``. Tool code gets one from ``user_store()``."""

    def __init__(self, client: AsyncClient, uid: str) -> None:
        self._client = client
        self._uid = validate_uid(uid)

    @property
    def uid(self) -> str:
        return self._uid

    def collection(self, name: str) -> UserCollection:
        return UserCollection(self._client, self._uid, name)

    async def settings(self) -> tuple[dict[str, Any], str]:
        """The user's own settings and the record's version (pass it to ``update_settings``)."""
        from google.api_core import exceptions as gexc

        try:
            snap = await self._client.collection(USERS).document(self._uid).get(timeout=TIMEOUT, retry=bounded_retry())
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc
        if not snap.exists:
            raise NotFound("Your user record is gone: ask an administrator.")
        return dict((snap.to_dict() or {}).get("settings") or {}), version_of(snap.update_time)

    async def update_settings(self, changes: Mapping[str, Any], *, version: str) -> tuple[dict[str, Any], str]:
        """Set (or, with a ``None`` value, remove) named settings if the record is still at ``version``."""
        from google.api_core import exceptions as gexc
        from google.cloud.firestore_v1 import DELETE_FIELD

        for key in changes:
            if not _SETTING.fullmatch(key):
                raise ValueError(f"Setting names are lowercase identifiers, got {key!r}.")
        current, current_version = await self.settings()
        if current_version != version:
            raise Conflict("Your settings changed since you read them: read them again and retry with the new version.")
        fields: dict[str, Any] = {f"settings.{k}": DELETE_FIELD if v is None else v for k, v in changes.items()}
        fields["updated_at"] = datetime.now(UTC)
        option = self._client.write_option(last_update_time=timestamp_of(version))
        try:
            result = (
                await self._client.collection(USERS)
                .document(self._uid)
                .update(fields, option=option, timeout=TIMEOUT, retry=bounded_retry())
            )
        except gexc.FailedPrecondition:
            raise Conflict("Your settings changed since you read them: read them again and retry.") from None
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            raise unavailable(exc) from exc
        merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
        return merged, version_of(result.update_time)


def user_stores(*, project: str | None, database: str = "(default)") -> Callable[[str], UserStore]:
    """``uid -> UserStore`` on the running loop's client of the deployment's database (``Settings``)."""

    def store(uid: str) -> UserStore:
        return UserStore(firestore_client(project=project, database=database), uid)

    return store
