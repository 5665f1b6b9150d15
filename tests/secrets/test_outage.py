"""SecretStore when Secret Manager cannot be reached: at start-up and while serving."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcp_auth.secrets import SecretManagerUnreachable, SecretStore
from tests._fixtures.clock import ManualClock
from tests._fixtures.secret_manager import CountingProxy, SecretManagerAdmin
from tests.secrets.helpers import secret_value

MakeStore = Callable[..., SecretStore]


async def test_cold_start_with_secret_manager_unreachable_fails_closed_naming_the_secrets(
    make_store: MakeStore, unreachable_endpoint: str
) -> None:
    store = make_store(project="demo", endpoint=unreachable_endpoint)

    with pytest.raises(SecretManagerUnreachable) as caught:
        await store.require(["jwt-signing-key", "api-key-pepper"])

    message = caught.value.message
    assert "'jwt-signing-key'" in message and "'api-key-pepper'" in message
    assert "could not be reached" in message
    assert caught.value.status == 503


async def test_first_read_with_secret_manager_unreachable_raises_secret_manager_unreachable(
    make_store: MakeStore, unreachable_endpoint: str
) -> None:
    store = make_store(project="demo", endpoint=unreachable_endpoint)

    with pytest.raises(SecretManagerUnreachable, match="'webhook-key'"):
        await store.get("webhook-key")


async def test_a_secret_manager_that_never_answers_fails_the_read_after_the_deadline(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, secret_manager_proxy: CountingProxy
) -> None:
    secret_manager.create_secret("service-token", secret_value())
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint, deadline=0.3)
    secret_manager_proxy.hold()

    with pytest.raises(SecretManagerUnreachable, match="'service-token'"):
        await store.get("service-token")


async def test_cached_values_keep_working_while_unreachable_until_max_age_then_fail_clearly(
    make_store: MakeStore,
    secret_manager: SecretManagerAdmin,
    secret_manager_proxy: CountingProxy,
    clock: ManualClock,
) -> None:
    value = secret_value()
    secret_manager.create_secret("service-token", value)
    store = make_store(
        project=secret_manager.project,
        endpoint=secret_manager_proxy.endpoint,
        refresh_interval=300,
        max_age=900,
        retry_interval=30,
    )
    assert await store.get("service-token") == value
    assert await store.versions("service-token") == [value]

    secret_manager_proxy.reachable = False
    clock.advance(301)
    assert await store.get("service-token") == value
    assert await store.versions("service-token") == [value]
    clock.advance(898 - 301)
    assert await store.get("service-token") == value

    clock.advance(3)
    with pytest.raises(SecretManagerUnreachable) as caught:
        await store.get("service-token")
    assert "'service-token'" in caught.value.message
    assert "expired" in caught.value.message
    assert caught.value.status == 503
    with pytest.raises(SecretManagerUnreachable):
        await store.versions("service-token")


async def test_reads_recover_when_secret_manager_comes_back(
    make_store: MakeStore,
    secret_manager: SecretManagerAdmin,
    secret_manager_proxy: CountingProxy,
    clock: ManualClock,
) -> None:
    old, new = secret_value(), secret_value()
    secret_manager.create_secret("service-token", old)
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint)
    await store.get("service-token")

    secret_manager_proxy.reachable = False
    clock.advance(1000)
    with pytest.raises(SecretManagerUnreachable):
        await store.get("service-token")

    secret_manager.add_version("service-token", new)
    secret_manager_proxy.reachable = True
    clock.advance(30)
    assert await store.get("service-token") == new


async def test_after_expiry_reads_fail_fast_until_the_retry_interval_passes(
    make_store: MakeStore,
    secret_manager: SecretManagerAdmin,
    secret_manager_proxy: CountingProxy,
    clock: ManualClock,
) -> None:
    secret_manager.create_secret("service-token", secret_value())
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint, retry_interval=30)
    await store.get("service-token")
    secret_manager_proxy.reachable = False
    clock.advance(1000)
    with pytest.raises(SecretManagerUnreachable, match="expired"):
        await store.get("service-token")
    attempts = secret_manager_proxy.count(":access")

    clock.advance(29)
    with pytest.raises(SecretManagerUnreachable, match="expired"):
        await store.get("service-token")
    assert secret_manager_proxy.count(":access") == attempts

    secret_manager_proxy.reachable = True
    clock.advance(2)
    await store.get("service-token")
    assert secret_manager_proxy.count(":access") > attempts


async def test_after_a_failed_refresh_the_next_attempt_waits_for_the_retry_interval(
    make_store: MakeStore,
    secret_manager: SecretManagerAdmin,
    secret_manager_proxy: CountingProxy,
    clock: ManualClock,
) -> None:
    secret_manager.create_secret("service-token", secret_value())
    store = make_store(
        project=secret_manager.project,
        endpoint=secret_manager_proxy.endpoint,
        refresh_interval=300,
        retry_interval=30,
    )
    await store.get("service-token")
    secret_manager_proxy.reachable = False
    clock.advance(301)
    await store.get("service-token")
    attempts = secret_manager_proxy.count(":access")

    clock.advance(29)
    await store.get("service-token")
    assert secret_manager_proxy.count(":access") == attempts

    clock.advance(2)
    await store.get("service-token")
    assert secret_manager_proxy.count(":access") > attempts
