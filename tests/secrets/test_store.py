"""SecretStore against a real Secret Manager REST emulator (drongo)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mcp_auth.errors import ConfigError, SecretUnavailable
from mcp_auth.secrets import (
    SecretNotFound,
    SecretStore,
    SecretVersionDestroyed,
    SecretVersionDisabled,
)
from tests._fixtures.clock import ManualClock
from tests._fixtures.secret_manager import CountingProxy, SecretManagerAdmin
from tests.secrets.helpers import secret_value, wait_until

MakeStore = Callable[..., SecretStore]


def store_for(make_store: MakeStore, sm: SecretManagerAdmin, **settings: object) -> SecretStore:
    return make_store(project=sm.project, endpoint=sm.endpoint, **settings)


async def test_reads_the_latest_version_and_pinned_versions(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    old, new = secret_value(), secret_value()
    secret_manager.create_secret("jwt-key", old, new)
    store = store_for(make_store, secret_manager)

    assert await store.get("jwt-key") == new
    assert await store.get("jwt-key", version="1") == old
    assert await store.get(f"projects/{secret_manager.project}/secrets/jwt-key/versions/1") == old


async def test_missing_secret_raises_secret_not_found_naming_it(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    store = store_for(make_store, secret_manager)

    with pytest.raises(SecretNotFound) as caught:
        await store.get("no-such-secret")

    assert caught.value.secret == "no-such-secret"
    assert caught.value.secret_exists is False
    assert caught.value.status == 503
    assert "'no-such-secret' does not exist" in caught.value.message


async def test_missing_pinned_version_raises_secret_not_found_for_the_version(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    secret_manager.create_secret("pepper", secret_value())
    store = store_for(make_store, secret_manager)

    with pytest.raises(SecretNotFound) as caught:
        await store.get("pepper", version="7")

    assert caught.value.secret_exists is True
    assert "Version 7 of secret 'pepper'" in caught.value.message


async def test_disabled_version_raises_secret_version_disabled(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    secret_manager.create_secret("pepper", secret_value(), secret_value())
    secret_manager.disable("pepper", "1")
    store = store_for(make_store, secret_manager)

    with pytest.raises(SecretVersionDisabled) as caught:
        await store.get("pepper", version="1")

    assert (caught.value.secret, caught.value.version) == ("pepper", "1")
    assert "is disabled" in caught.value.message


async def test_destroyed_version_raises_secret_version_destroyed(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    secret_manager.create_secret("pepper", secret_value(), secret_value())
    secret_manager.destroy("pepper", "1")
    store = store_for(make_store, secret_manager)

    with pytest.raises(SecretVersionDestroyed) as caught:
        await store.get("pepper", version="1")

    assert "is destroyed" in caught.value.message


async def test_secret_with_every_version_disabled_has_no_usable_version(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    secret_manager.create_secret("pepper", secret_value())
    secret_manager.disable("pepper", "1")
    store = store_for(make_store, secret_manager)

    with pytest.raises(SecretUnavailable):
        await store.get("pepper")
    with pytest.raises(SecretNotFound, match="has no enabled version"):
        await store.versions("pepper")


async def test_cached_value_is_served_until_the_refresh_interval_passes(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, clock: ManualClock
) -> None:
    first, second = secret_value(), secret_value()
    secret_manager.create_secret("token", first)
    store = store_for(make_store, secret_manager, refresh_interval=300)
    assert await store.get("token") == first

    secret_manager.add_version("token", second)
    clock.advance(299)
    assert await store.get("token") == first

    clock.advance(2)
    assert await store.get("token") == second


async def test_rotation_while_serving_reads_both_versions_then_drops_the_disabled_one(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, clock: ManualClock
) -> None:
    old, new = secret_value(), secret_value()
    secret_manager.create_secret("signing-key", old)
    store = store_for(make_store, secret_manager, refresh_interval=300)
    assert await store.versions("signing-key") == [old]
    assert await store.get("signing-key") == old

    secret_manager.add_version("signing-key", new)
    clock.advance(301)
    assert await store.versions("signing-key") == [new, old]
    assert await store.get("signing-key") == new

    secret_manager.disable("signing-key", "1")
    clock.advance(301)
    assert await store.versions("signing-key") == [new]
    assert await store.get("signing-key") == new


async def test_versions_returns_at_most_count_newest_enabled_versions(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    values = [secret_value() for _ in range(4)]
    secret_manager.create_secret("key", *values)
    secret_manager.disable("key", "3")
    store = store_for(make_store, secret_manager)

    assert await store.versions("key", count=2) == [values[3], values[1]]
    assert await store.versions("key", count=5) == [values[3], values[1], values[0]]


async def test_disabling_a_cached_pinned_version_revokes_it_at_the_next_refresh(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, clock: ManualClock
) -> None:
    secret_manager.create_secret("api-key", secret_value())
    store = store_for(make_store, secret_manager, refresh_interval=300)
    await store.get("api-key", version="1")

    secret_manager.disable("api-key", "1")
    clock.advance(301)

    with pytest.raises(SecretVersionDisabled):
        await store.get("api-key", version="1")


async def test_deleted_secret_is_dropped_from_the_cache_at_the_next_refresh(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, clock: ManualClock
) -> None:
    secret_manager.create_secret("api-key", secret_value())
    store = store_for(make_store, secret_manager, refresh_interval=300)
    await store.get("api-key")

    secret_manager.delete_secret("api-key")
    clock.advance(301)

    with pytest.raises(SecretNotFound):
        await store.get("api-key")


async def test_concurrent_misses_for_one_secret_share_one_fetch(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, secret_manager_proxy: CountingProxy
) -> None:
    value = secret_value()
    secret_manager.create_secret("shared", value)
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint, deadline=10)

    secret_manager_proxy.hold()
    readers = [asyncio.ensure_future(store.get("shared")) for _ in range(20)]
    await wait_until(lambda: secret_manager_proxy.held == 1)
    await asyncio.sleep(0.05)  # every reader is now waiting on the first one's fetch
    secret_manager_proxy.release()

    assert await asyncio.gather(*readers) == [value] * 20
    assert secret_manager_proxy.count("/secrets/shared/versions/latest:access") == 1


async def test_concurrent_refreshes_after_the_interval_share_one_fetch(
    make_store: MakeStore,
    secret_manager: SecretManagerAdmin,
    secret_manager_proxy: CountingProxy,
    clock: ManualClock,
) -> None:
    secret_manager.create_secret("shared", secret_value())
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint, deadline=10)
    await store.get("shared")
    new = secret_value()
    secret_manager.add_version("shared", new)
    clock.advance(301)

    secret_manager_proxy.hold()
    readers = [asyncio.ensure_future(store.get("shared")) for _ in range(10)]
    await wait_until(lambda: secret_manager_proxy.held == 1)
    await asyncio.sleep(0.05)
    secret_manager_proxy.release()

    assert await asyncio.gather(*readers) == [new] * 10
    assert secret_manager_proxy.count(":access") == 2


async def test_a_cancelled_reader_does_not_cancel_the_shared_fetch(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, secret_manager_proxy: CountingProxy
) -> None:
    value = secret_value()
    secret_manager.create_secret("shared", value)
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint, deadline=10)

    secret_manager_proxy.hold()
    first = asyncio.ensure_future(store.get("shared"))
    second = asyncio.ensure_future(store.get("shared"))
    await wait_until(lambda: secret_manager_proxy.held == 1)
    first.cancel()
    secret_manager_proxy.release()

    assert await second == value
    with pytest.raises(asyncio.CancelledError):
        await first
    assert secret_manager_proxy.count(":access") == 1


async def test_forget_drops_cached_values_of_one_secret(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    first, second = secret_value(), secret_value()
    secret_manager.create_secret("token", first)
    store = store_for(make_store, secret_manager)
    assert await store.get("token") == first

    secret_manager.add_version("token", second)
    store.forget("token")

    assert await store.get("token") == second


async def test_require_loads_every_named_secret(
    make_store: MakeStore, secret_manager: SecretManagerAdmin, secret_manager_proxy: CountingProxy
) -> None:
    secret_manager.create_secret("a", secret_value())
    secret_manager.create_secret("b", secret_value())
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint)

    await store.require(["a", "b"])
    await store.get("a")
    await store.get("b")

    assert secret_manager_proxy.count(":access") == 2


async def test_require_fails_closed_naming_missing_and_disabled_secrets(
    make_store: MakeStore, secret_manager: SecretManagerAdmin
) -> None:
    present = secret_value()
    secret_manager.create_secret("present", present)
    secret_manager.create_secret("switched-off", secret_value())
    secret_manager.disable("switched-off", "1")
    store = store_for(make_store, secret_manager)

    with pytest.raises(ConfigError) as caught:
        await store.require(["present", "absent", "switched-off"])

    message = caught.value.message
    assert "'absent'" in message and "'switched-off'" in message
    assert "'present'" not in message
    assert present.decode() not in message


async def test_store_settings_are_checked_at_construction(make_store: MakeStore) -> None:
    with pytest.raises(ConfigError, match="must be a URL"):
        make_store(project="demo", endpoint="127.0.0.1:8085")
    with pytest.raises(ConfigError, match="max_age"):
        make_store(project="demo", refresh_interval=300, max_age=60)
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        make_store(project="")
    with pytest.raises(ConfigError, match="refresh_interval"):
        make_store(project="demo", refresh_interval=0)
