"""Shared windows on the Firestore emulator: limiters with separate local state hold one limit in total."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mcp_auth.ratelimit import FirestoreWindows, Rate, RateLimiter, window_id
from tests._fixtures.clock import ManualClock

NOW = 1_800_000_000.0


@pytest.fixture
async def windows(firestore_emulator: object) -> AsyncIterator[FirestoreWindows]:
    from mcp_auth.store.firestore import firestore_client

    client = firestore_client(project="demo-mcp-auth-test")
    # the emulator's first write on a fresh connection can be slow on a busy machine
    await client.collection("warm_up").document("w").set({"at": 1}, timeout=60)
    yield FirestoreWindows(client)  # the client is shared by the whole session: the session fixture closes it


def fresh_key() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


async def test_instances_sharing_the_emulator_admit_the_limit_in_total_not_each(windows: FirestoreWindows) -> None:
    rate = Rate(200, 60)
    key = fresh_key()
    instances = [RateLimiter(windows, lease=10, clock=ManualClock(NOW)) for _ in range(3)]

    async def hammer(limiter: RateLimiter) -> int:
        return sum([(await limiter.check("user", key, rate)).allowed for _ in range(150)])

    per_instance = await asyncio.gather(*(hammer(limiter) for limiter in instances))
    total = sum(per_instance)
    # never over the limit; under it by at most (lease - 1) stranded units per instance
    assert 200 - 3 * 9 <= total <= 200, per_instance
    assert all(n > 0 for n in per_instance)


async def test_the_shared_window_records_what_was_leased_and_an_expiry(windows: FirestoreWindows) -> None:
    rate = Rate(30, 60)
    key = fresh_key()
    clock = ManualClock(NOW)
    limiter = RateLimiter(windows, lease=10, clock=clock)
    assert sum([(await limiter.check("tool", key, rate)).allowed for _ in range(40)]) == 30
    doc_id = window_id("tool", key, rate, rate.window(clock.now))
    snap = await windows._client.collection("rate_limits").document(doc_id).get()
    data = snap.to_dict()
    assert data["used"] == 30 and data["limit"] == 30
    assert data["expires_at"].timestamp() == (rate.window(clock.now) + 2) * 60
    assert key not in doc_id


async def test_most_requests_do_not_touch_firestore(windows: FirestoreWindows) -> None:
    rate = Rate(1000, 60)
    key = fresh_key()
    limiter = RateLimiter(windows, lease=10, clock=ManualClock(NOW))
    before = windows.calls
    assert sum([(await limiter.check("user", key, rate)).allowed for _ in range(300)]) == 300
    assert windows.calls - before == 6  # leases of 10, 20, 40, 80, 106 and 93 units


async def test_a_later_window_on_another_instance_starts_afresh(windows: FirestoreWindows) -> None:
    rate = Rate(5, 60)
    key = fresh_key()
    clock = ManualClock(NOW)
    first, second = RateLimiter(windows, clock=clock), RateLimiter(windows, clock=clock)
    assert sum([(await first.check("user", key, rate)).allowed for _ in range(10)]) == 5
    assert not (await second.check("user", key, rate)).allowed
    clock.now += 60
    assert (await second.check("user", key, rate)).allowed


async def test_credit_spares_light_keys_a_write_and_holds_the_bound_on_the_emulator(windows: FirestoreWindows) -> None:
    rate = Rate(120, 60)
    instances = [RateLimiter(windows, lease=10, credit=10, clock=ManualClock(NOW)) for _ in range(2)]
    before = windows.calls
    for person in [fresh_key() for _ in range(20)]:  # twenty people, eight calls a minute each, on both
        for call in range(8):
            assert (await instances[call % 2].check("tool", person, rate)).allowed
    assert windows.calls == before
    key = fresh_key()
    total = sum([(await instances[i % 2].check("tool", key, rate)).allowed for i in range(300)])
    assert 120 - 2 * 9 <= total <= 120 + 2 * 10
    doc_id = window_id("tool", key, rate, rate.window(NOW))
    snap = await windows._client.collection("rate_limits").document(doc_id).get()
    assert snap.to_dict()["used"] >= total - 2 * 10  # what each admitted on credit was reported
