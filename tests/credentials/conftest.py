from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from mcp_auth.credentials import CredentialResolver, CredentialVersions, PlatformClient
from tests._fixtures.firestore import TEST_PROJECT


@pytest.fixture
def uid() -> Callable[[], str]:
    return lambda: f"u-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def versions(firestore_emulator) -> CredentialVersions:
    return CredentialVersions(project=TEST_PROJECT)


@pytest.fixture
def platform_client(fake_platform) -> Callable[..., PlatformClient]:
    def make(**kwargs) -> PlatformClient:
        async def token() -> str:
            return fake_platform.service_token

        return PlatformClient(
            base_url=fake_platform.url,
            service_token=kwargs.pop("service_token", token),
            **{"deadline": 3.0, "attempt_timeout": 1.0, **kwargs},
        )

    return make


@pytest.fixture
def resolver(platform_client, versions, clock) -> Callable[..., CredentialResolver]:
    def make(**kwargs) -> CredentialResolver:
        return CredentialResolver(
            platform=kwargs.pop("platform", None) or platform_client(),
            versions=versions,
            clock=clock.monotonic,
            wall_clock=clock.time,
            **kwargs,
        )

    return make
