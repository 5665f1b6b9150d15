"""The window and lease logic with an injected clock and in-memory windows."""

import logging

import pytest

from mcp_auth.ratelimit import Decision, MemoryWindows, Rate, RateLimiter
from mcp_auth.rates import DEFAULT_CREDIT
from tests._fixtures.clock import ManualClock


class BrokenWindows:
    calls = 0

    async def acquire(self, window_id: str, **_: object) -> object:
        self.calls += 1
        raise ConnectionError("store down")


async def admitted(limiter: RateLimiter, rate: Rate, n: int, key: str = "alice", kind: str = "user") -> int:
    return sum([(await limiter.check(kind, key, rate)).allowed for _ in range(n)])


async def test_a_window_admits_exactly_its_limit_then_denies_with_retry_after() -> None:
    clock = ManualClock(6000.0)
    limiter = RateLimiter(MemoryWindows(), lease=10, clock=clock)
    rate = Rate(25, 60)
    assert await admitted(limiter, rate, 25) == 25
    clock.now = 6042.5
    assert await limiter.check("user", "alice", rate) == Decision(False, 18, 25, "user")


async def test_the_next_window_starts_afresh() -> None:
    clock = ManualClock(6000.0)
    limiter = RateLimiter(MemoryWindows(), clock=clock)
    rate = Rate(3, 60)
    assert await admitted(limiter, rate, 5) == 3
    clock.now = 6060.0
    assert await admitted(limiter, rate, 5) == 3


async def test_most_requests_are_served_from_the_local_lease() -> None:
    store = MemoryWindows()
    limiter = RateLimiter(store, lease=10, clock=ManualClock(6000.0))
    assert await admitted(limiter, Rate(1000, 60), 500) == 500
    # leases of 10, 20, 40 and 80 units, then an eighth of what is left: 106, 93, 81, 71
    assert store.calls == 8


async def test_a_lease_doubles_within_a_window_and_starts_again_at_lease_in_the_next() -> None:
    store = MemoryWindows()
    clock = ManualClock(6000.0)
    limiter = RateLimiter(store, lease=10, clock=clock)
    rate = Rate(1_000_000, 60)
    assert await admitted(limiter, rate, 10 + 20 + 40 + 80) == 150
    assert store.calls == 4
    clock.advance(60)
    assert await admitted(limiter, rate, 10) == 10
    assert store.calls == 5  # a new window: one lease of 10 again


async def test_denials_in_a_used_up_window_cost_no_store_call() -> None:
    store = MemoryWindows()
    limiter = RateLimiter(store, lease=10, clock=ManualClock(6000.0))
    rate = Rate(5, 60)
    await admitted(limiter, rate, 5)
    calls = store.calls
    assert await admitted(limiter, rate, 100) == 0
    assert store.calls == calls


async def test_keys_and_kinds_are_counted_apart() -> None:
    limiter = RateLimiter(MemoryWindows(), clock=ManualClock(6000.0))
    rate = Rate(2, 60)
    assert await admitted(limiter, rate, 3, key="alice") == 2
    assert await admitted(limiter, rate, 3, key="bob") == 2
    assert await admitted(limiter, rate, 3, key="alice", kind="tool") == 2


async def test_two_limiters_sharing_windows_hold_the_limit_in_total() -> None:
    store = MemoryWindows()
    a = RateLimiter(store, lease=10, clock=ManualClock(6000.0))
    b = RateLimiter(store, lease=10, clock=ManualClock(6000.0))
    rate = Rate(100, 60)
    total = 0
    for _ in range(150):
        total += (await a.check("user", "alice", rate)).allowed
        total += (await b.check("user", "alice", rate)).allowed
    # never more than the limit; at most lease-1 units stranded in the other instance's lease
    assert 100 - 9 <= total <= 100


async def test_cost_spends_several_units() -> None:
    limiter = RateLimiter(MemoryWindows(), clock=ManualClock(6000.0))
    rate = Rate(10, 60)
    assert (await limiter.check("tool", "k", rate, cost=4)).allowed
    assert (await limiter.check("tool", "k", rate, cost=6)).allowed
    assert not (await limiter.check("tool", "k", rate, cost=1)).allowed


async def test_a_cost_above_the_limit_is_denied_without_using_the_window() -> None:
    limiter = RateLimiter(MemoryWindows(), clock=ManualClock(6000.0))
    rate = Rate(10, 60)
    assert not (await limiter.check("tool", "k", rate, cost=11)).allowed
    assert await admitted(limiter, rate, 10, key="k", kind="tool") == 10


async def test_unlimited_rates_always_allow() -> None:
    store = MemoryWindows()
    limiter = RateLimiter(store, clock=ManualClock(6000.0))
    assert await admitted(limiter, None, 50) == 50  # type: ignore[arg-type]
    assert store.calls == 0


async def test_blocked_is_a_local_look_that_knows_a_used_up_window() -> None:
    clock = ManualClock(6000.0)
    limiter = RateLimiter(MemoryWindows(), clock=clock)
    rate = Rate(2, 60)
    assert limiter.blocked("ip", "192.0.2.1", rate).allowed
    await admitted(limiter, rate, 3, key="192.0.2.1", kind="ip")
    assert limiter.blocked("ip", "192.0.2.1", rate) == Decision(False, 60, 2, "ip")
    clock.now = 6060.0
    assert limiter.blocked("ip", "192.0.2.1", rate).allowed


async def test_a_denial_is_logged_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(6000.0)
    limiter = RateLimiter(MemoryWindows(), clock=clock)
    rate = Rate(1, 60)
    with caplog.at_level(logging.WARNING, logger="mcp_auth.ratelimit"):
        await admitted(limiter, rate, 20)
        assert len([r for r in caplog.records if "rate limit exceeded" in r.getMessage()]) == 1
        clock.now = 6060.0
        await admitted(limiter, rate, 20)
    assert len([r for r in caplog.records if "rate limit exceeded" in r.getMessage()]) == 2


async def test_a_failing_store_fails_open_to_a_per_instance_count_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenWindows()
    limiter = RateLimiter(store, clock=ManualClock(6000.0))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="mcp_auth.ratelimit"):
        assert await admitted(limiter, Rate(5, 60), 8) == 5
    assert len([r for r in caplog.records if "store unavailable" in r.getMessage()]) == 1


async def test_unknown_kinds_and_costs_are_programming_errors() -> None:
    limiter = RateLimiter(MemoryWindows(), clock=ManualClock(6000.0))
    with pytest.raises(ValueError, match="kind"):
        await limiter.check("planet", "x", Rate(1, 1))
    with pytest.raises(ValueError, match="cost"):
        await limiter.check("user", "x", Rate(1, 1), cost=0)


@pytest.mark.parametrize(("limit", "most_leases"), [(60, 27), (120, 32), (600, 46), (6000, 67), (60000, 87)])
@pytest.mark.parametrize("instances", [1, 2, 4])
async def test_every_unit_is_spent_with_the_documented_number_of_leases(
    limit: int, most_leases: int, instances: int
) -> None:
    store = MemoryWindows()
    limiters = [RateLimiter(store, lease=10, clock=ManualClock(6000.0)) for _ in range(instances)]
    rate = Rate(limit, 60)
    total = sum([(await limiters[i % instances].check("user", "k", rate)).allowed for i in range(2 * limit)])
    assert total == limit
    assert store.calls <= most_leases


async def test_a_light_user_costs_no_write_on_credit_and_the_first_lease_reports_it() -> None:
    store = MemoryWindows()
    limiter = RateLimiter(store, lease=10, credit=10, clock=ManualClock(6000.0))
    rate = Rate(600, 60)
    assert await admitted(limiter, rate, 10) == 10
    assert store.calls == 0
    assert await admitted(limiter, rate, 1) == 1
    assert store.calls == 1
    assert store._used[next(iter(store._used))] == 10 + 20  # the ten on credit, then a doubled lease


async def test_credit_is_an_eighth_of_the_limit_at_most_and_address_limits_take_none() -> None:
    store = MemoryWindows()
    limiter = RateLimiter(store, lease=10, credit=10, clock=ManualClock(6000.0))
    assert await admitted(limiter, Rate(40, 60), 5) == 5  # 40 // 8: five on credit
    assert store.calls == 0
    assert await admitted(limiter, Rate(7, 60), 1, key="bob") == 1  # under 8: no credit, exact
    assert store.calls == 1
    assert await admitted(limiter, Rate(600, 60), 1, key="192.0.2.1", kind="ip") == 1
    assert store.calls == 2


async def test_credit_starts_again_with_each_window() -> None:
    store = MemoryWindows()
    clock = ManualClock(6000.0)
    limiter = RateLimiter(store, lease=10, credit=10, clock=clock)
    rate = Rate(600, 60)
    for _ in range(3):
        assert await admitted(limiter, rate, 10) == 10
        clock.advance(60)
    assert store.calls == 0


async def test_a_cost_beyond_the_credit_left_reports_only_what_was_admitted_on_it() -> None:
    store = MemoryWindows()
    limiter = RateLimiter(store, lease=10, credit=10, clock=ManualClock(6000.0))
    rate = Rate(600, 60)
    assert (await limiter.check("tool", "k", rate, cost=7)).allowed
    assert (await limiter.check("tool", "k", rate, cost=5)).allowed  # three left on credit: a lease
    assert store._used[next(iter(store._used))] == 7 + 20


@pytest.mark.parametrize("setting", [10, DEFAULT_CREDIT])
@pytest.mark.parametrize("instances", [1, 2, 4, 8])
@pytest.mark.parametrize("limit", [60, 120, 600])
async def test_instances_on_credit_go_over_the_limit_by_at_most_their_credit(
    limit: int, instances: int, setting: int
) -> None:
    store = MemoryWindows()
    limiters = [RateLimiter(store, lease=10, credit=setting, clock=ManualClock(6000.0)) for _ in range(instances)]
    rate = Rate(limit, 60)
    credit = min(setting, limit // 8)
    total = sum([(await limiters[i % instances].check("user", "k", rate)).allowed for i in range(3 * limit)])
    assert limit - instances * 9 <= total <= limit + instances * credit


async def test_light_users_spread_over_instances_are_admitted_without_a_write_and_within_the_bound() -> None:
    store = MemoryWindows()
    limiters = [RateLimiter(store, lease=10, credit=10, clock=ManualClock(6000.0)) for _ in range(4)]
    rate = Rate(120, 60)
    for user in range(1000):
        for call in range(8):
            assert (await limiters[(user + call) % 4].check("tool", f"u{user}", rate)).allowed
    assert store.calls == 0
    # one key on all four instances: each admits its credit unseen, then the shared window holds the rest
    total = sum([(await limiters[i % 4].check("tool", "heavy", rate)).allowed for i in range(400)])
    assert total <= 120 + 4 * 10


def test_a_negative_credit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="credit"):
        RateLimiter(MemoryWindows(), credit=-1)


async def test_a_failing_store_counts_what_was_admitted_on_credit_against_the_local_limit() -> None:
    limiter = RateLimiter(BrokenWindows(), credit=10, clock=ManualClock(6000.0))  # type: ignore[arg-type]
    assert await admitted(limiter, Rate(80, 60), 100) == 80
