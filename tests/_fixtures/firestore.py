"""The official Firestore emulator, one per test session.

firestore_emulator   session: the running emulator; FIRESTORE_EMULATOR_HOST and
                     GOOGLE_CLOUD_PROJECT are set for this process while it runs
user_repo            a UserRepository on the emulator, for seeding records
make_user            make_user(toolsets=, scopes=, status=) -> a new UserRecord with a fresh id
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from mcp_auth.devtools.emulator import FirestoreEmulator
from mcp_auth.store.users import UserRecord, UserRepository

TEST_PROJECT = "demo-mcp-auth-test"


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirestoreEmulator]:
    log = tmp_path_factory.mktemp("firestore") / "emulator.log"
    saved = {k: os.environ.get(k) for k in ("FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")}
    with FirestoreEmulator(log_path=log) as emulator:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
        os.environ["GOOGLE_CLOUD_PROJECT"] = TEST_PROJECT
        try:
            yield emulator
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
async def user_repo(firestore_emulator: FirestoreEmulator) -> AsyncIterator[UserRepository]:
    from mcp_auth.store.firestore import close_clients, firestore_client

    yield UserRepository(firestore_client(project=TEST_PROJECT))
    await close_clients()


@pytest.fixture
def make_user(user_repo: UserRepository) -> Callable[..., Awaitable[UserRecord]]:
    """Create a user record with a fresh id: make_user(toolsets=..., scopes=..., status=...)."""

    async def make(
        *,
        toolsets: tuple[str, ...] = ("basics",),
        scopes: tuple[str, ...] = ("mcp:tools",),
        status: str = "active",
        prefix: str = "user",
    ) -> UserRecord:
        uid = f"{prefix}-{uuid.uuid4().hex[:12]}"
        record = await user_repo.create(UserRecord(uid=uid, toolsets=frozenset(toolsets), scopes=frozenset(scopes)))
        if status != "active":
            record = await user_repo.update(uid, status=status)
        return record

    return make
