"""Credential versions in Firestore: how every instance learns that a credential changed.

    users/{uid}/credential_versions/{provider}   {version: int, updated_at: timestamp}
    users/{uid}/credential_events/{sha256(event_id)}   {provider, received_at, expire_at}

The webhook bumps ``version`` and records the event in one atomic batch; the
event document is created with an "must not exist" precondition, so a repeated
delivery changes nothing. The resolver reads ``version`` (one document read by
key) before it uses a cached credential and refetches when it changed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry, firestore_client

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

EVENT_RETENTION = timedelta(days=7)
"""How long event ids are kept for de-duplication (the ``expire_at`` TTL policy deletes them later)."""


class CredentialVersions:
    """Reads and bumps per-(user, provider) credential versions."""

    def __init__(
        self, client: AsyncClient | None = None, *, project: str | None = None, database: str = "(default)"
    ) -> None:
        self._client = client
        self._project = project
        self._database = database

    def _db(self) -> AsyncClient:
        return self._client or firestore_client(project=self._project, database=self._database)

    async def current(self, user_id: str, provider: str) -> int:
        """The version now recorded (0 if the webhook never fired for this pair)."""
        from google.api_core import exceptions as api

        ref = self._db().collection("users").document(user_id).collection("credential_versions").document(provider)
        try:
            snapshot = await ref.get(retry=bounded_retry(), timeout=TIMEOUT)
        except api.GoogleAPICallError as exc:
            raise StoreUnavailable(
                "Could not check whether your credential changed (Firestore unavailable); try again in a moment."
            ) from exc
        data: dict[str, Any] = (snapshot.to_dict() or {}) if snapshot.exists else {}
        version = data.get("version", 0)
        return version if isinstance(version, int) else 0

    async def bump(self, user_id: str, provider: str, *, event_id: str) -> bool:
        """Record one credential-updated event; False if this event id was recorded before."""
        from google.api_core import exceptions as api
        from google.cloud import firestore

        db = self._db()
        user = db.collection("users").document(user_id)
        event_key = hashlib.sha256(event_id.encode()).hexdigest()
        now = datetime.now(UTC)
        batch = db.batch()
        batch.create(
            user.collection("credential_events").document(event_key),
            {"provider": provider, "received_at": now, "expire_at": now + EVENT_RETENTION},
        )
        batch.set(
            user.collection("credential_versions").document(provider),
            {"version": firestore.Increment(1), "updated_at": firestore.SERVER_TIMESTAMP},
            merge=True,
        )
        try:
            await batch.commit(retry=bounded_retry(), timeout=TIMEOUT)
        except (api.AlreadyExists, api.Conflict):
            return False
        except api.GoogleAPICallError as exc:
            raise StoreUnavailable("Could not record the credential change (Firestore unavailable).") from exc
        return True
