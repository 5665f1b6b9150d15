"""The official Firestore emulator, one per test session.

    firestore_emulator   session: the running emulator; FIRESTORE_EMULATOR_HOST and
                         GOOGLE_CLOUD_PROJECT are set for this process while it runs
    user_repo            a UserRepository on the emulator, for seeding records
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from mcp_auth.devtools.emulator import FirestoreEmulator
from mcp_auth.store.users import UserRepository

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
