"""Fixtures for the interoperability tests.

node_bin            the Node 22 runtime from the committed lock file (npm ci on first use)
conformance_url     two conformance fixture functions behind a round-robin proxy, as one URL; both
                    seal requestState with one key from the Secret Manager emulator
fixture_endpoint    the conformance fixture behind JWT auth, as production: (url, bearer token of a fresh user)
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_auth import UserRecord
from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.users import UserRepository
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.secret_manager import SecretManagerAdmin
from tests.interop import node

CONFORMANCE_SOURCE = Path(__file__).resolve().parent / "conformance_function" / "main.py"
CONFORMANCE_USER = "conformance-user"


@pytest.fixture(scope="session")
def node_bin() -> Path:
    return node.ensure_installed()


async def _ensure_user(repo: UserRepository, uid: str) -> None:
    for attempt in range(3):  # a freshly started emulator on a busy machine may miss the first deadline
        try:
            if await repo.get(uid) is None:
                await repo.create(UserRecord(uid=uid, scopes=frozenset({"mcp:tools"})))
            return
        except StoreUnavailable:
            if attempt == 2:
                raise
            await asyncio.sleep(1)


@pytest.fixture
def request_state_secret(drongo_endpoint: str) -> str:
    """A fresh request-state key secret in the functions' project on the emulator."""
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    try:
        name = f"request-state-{uuid.uuid4().hex[:10]}"
        admin.create_secret(name, os.urandom(32))
        return name
    finally:
        admin.close()


@pytest.fixture
async def conformance_url(
    start_function: Callable[..., object],
    round_robin_proxy: Callable[[], object],
    user_repo: UserRepository,
    drongo_endpoint: str,
    request_state_secret: str,
) -> str:
    await _ensure_user(user_repo, CONFORMANCE_USER)
    proxy = round_robin_proxy()
    resource = f"{proxy.url}/mcp"
    instances = [
        start_function(
            _SOURCE=str(CONFORMANCE_SOURCE),
            MCP_AUTH_PROVIDERS="dev",
            MCP_AUTH_DEV_USER=CONFORMANCE_USER,
            MCP_AUTH_RESOURCE_URL=resource,
            MCP_AUTH_JWT_HS256_KEY=None,
            MCP_AUTH_JWT_ISSUER=None,
            MCP_AUTH_REQUEST_STATE_KEY_SECRET=request_state_secret,
            MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
        )
        for _ in range(2)
    ]
    proxy.route_to([f.base for f in instances])
    return resource


@pytest.fixture
async def fixture_endpoint(
    start_function: Callable[..., object], user_repo: UserRepository, mint: Callable[..., str]
) -> tuple[str, str]:
    uid = f"interop-{uuid.uuid4().hex[:12]}"
    await _ensure_user(user_repo, uid)
    running = start_function(_SOURCE=str(CONFORMANCE_SOURCE))
    return running.url, mint(uid, audience=running.url)
