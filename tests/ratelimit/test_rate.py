import pytest

from mcp_auth.errors import ConfigError
from mcp_auth.ratelimit import Rate, RateLimits, lease_size, parse_rate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("120/minute", Rate(120, 60)),
        ("5/second", Rate(5, 1)),
        ("1000/5 minutes", Rate(1000, 300)),
        (" 10 / hour ", Rate(10, 3600)),
        ("7/DAY", Rate(7, 86400)),
        ("off", None),
    ],
)
def test_rates_parse_from_count_slash_unit(text: str, expected: Rate | None) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "120", "120/fortnight", "0/minute", "-1/minute", "10/2 days", "x/minute"])
def test_bad_rates_name_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match="MCP_AUTH_RATE_LIMIT_USER"):
        RateLimits.from_strings(user=text)


def test_windows_are_aligned_to_the_epoch_and_retry_after_counts_to_the_end() -> None:
    rate = Rate(10, 60)
    assert rate.window(120.0) == rate.window(179.9) == 2
    assert rate.window(180.0) == 3
    assert rate.retry_after(120.0) == 60
    assert rate.retry_after(179.5) == 1
    assert rate.retry_after(179.99) == 1


def test_leases_shrink_to_one_unit_near_the_limit() -> None:
    assert lease_size(need=1, remaining=1000, lease=10) == 10
    assert lease_size(need=1, remaining=40, lease=10) == 5
    assert lease_size(need=1, remaining=7, lease=10) == 1
    assert lease_size(need=3, remaining=7, lease=10) == 3
    assert lease_size(need=2, remaining=1, lease=10) == 0
    assert lease_size(need=1, remaining=0, lease=10) == 0


def test_user_quotas_override_the_deployment_limits() -> None:
    limits = RateLimits.from_strings(ip="30/minute", user="600/minute", tool="120/minute")
    quotas = {"user": "50/hour", "tool": "20/minute", "tool:search": "off", "ip": "1/second"}
    assert limits.for_user("user", quotas) == Rate(50, 3600)
    assert limits.for_user("tool", quotas, tool="echo") == Rate(20, 60)
    assert limits.for_user("tool", quotas, tool="search") is None
    assert limits.for_user("ip", quotas) == Rate(30, 60)  # an address has no user to override it
    assert limits.for_user("user", {}) == Rate(600, 60)


def test_a_malformed_user_quota_falls_back_to_the_deployment_limit() -> None:
    limits = RateLimits.from_strings(user="600/minute")
    assert limits.for_user("user", {"user": "lots"}) == Rate(600, 60)


def test_defaults_are_documented_values() -> None:
    limits = RateLimits.from_strings()
    assert (limits.ip, limits.user, limits.tool, limits.lease) == (Rate(60, 60), Rate(600, 60), Rate(120, 60), 10)


def test_lease_must_be_a_small_positive_number() -> None:
    with pytest.raises(ConfigError, match="MCP_AUTH_RATE_LIMIT_LEASE"):
        RateLimits.from_strings(lease="0")
    with pytest.raises(ConfigError, match="MCP_AUTH_RATE_LIMIT_LEASE"):
        RateLimits.from_strings(lease="ten")


@pytest.mark.parametrize("credit", ["-1", "1001", "ten", "1.5", ""])
def test_credit_must_be_a_whole_number_from_0_to_1000(credit: str) -> None:
    with pytest.raises(ConfigError, match="MCP_AUTH_RATE_LIMIT_CREDIT"):
        RateLimits.from_strings(credit=credit)


def test_credit_defaults_to_a_hundred_and_zero_is_allowed() -> None:
    assert RateLimits.from_strings().credit == 100
    assert RateLimits.from_strings(credit="0").credit == 0
