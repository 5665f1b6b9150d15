"""A Firestore database of a test's own on the session emulator (a fresh project id: empty, unshared).

fresh_database       async fixture: Database(project, client) with nothing in it
seed_010(client)     the documents a 0.1.0 deployment leaves: users keyed by email, a JWT subject,
                     a note, an API key; plus one record a 0.2.0 sign-in has already claimed
dump(client)         every document, as {path: (data, update time)}: equal dumps mean nothing was written
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from mcp_auth.store.identities import identity_key
from tests.store.warmup import warm

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient


@dataclass(frozen=True)
class Database:
    project: str
    client: AsyncClient


@pytest.fixture
async def fresh_database(user_repo: Any) -> Database:
    from mcp_auth.store.firestore import firestore_client

    await warm(user_repo)  # the emulator answers before the test's first deadline
    project = f"demo-db-{uuid.uuid4().hex[:12]}"
    return Database(project, firestore_client(project=project))


CLAIMED_KEY = identity_key("https://accounts.google.com", "110248495921238986420")


async def seed_010(client: AsyncClient) -> list[str]:
    """Write what a 0.1.0 deployment leaves behind; the paths written."""
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    user = {"status": "active", "scopes": ["notes:read"], "toolsets": ["notes"], "settings": {}}
    documents: dict[str, dict[str, Any]] = {
        "users/ann@example.com": {**user, "created_at": now, "updated_at": now},
        "users/bob@example.com": {**user, "status": "disabled", "created_at": now, "updated_at": now},
        "users/svc-reporting": {**user, "toolsets": ["basics"], "created_at": now, "updated_at": now},
        "users/cy@example.com": {**user, "identity": CLAIMED_KEY, "created_at": now, "updated_at": now},
        "users/ann@example.com/notes/n1": {"title": "hello", "title_key": "hello", "body": "", "tags": []},
        "api_keys/k1": {"owner": "svc-reporting", "hmac": "00" * 32, "scopes": ["notes:read"], "revoked": False},
        f"identities/{CLAIMED_KEY}": {
            "uid": "cy@example.com",
            "issuer": "https://accounts.google.com",
            "sub": "110248495921238986420",
            "email": "cy@example.com",
        },
    }
    for path, data in documents.items():
        await client.document(path).set(data)
    return sorted(documents)


async def dump(client: AsyncClient) -> dict[str, tuple[dict[str, Any], Any]]:
    found: dict[str, tuple[dict[str, Any], Any]] = {}

    async def walk(collections: Any) -> None:
        async for collection in collections:
            async for ref in collection.list_documents():
                snap = await ref.get()
                if snap.exists:
                    found[ref.path] = (snap.to_dict(), snap.update_time)
                await walk(ref.collections())

    await walk(client.collections())
    return found
