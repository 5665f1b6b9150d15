"""Client address and scheme behind Google's front ends: only the entries they appended count."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.proxies import address_key, client_origin

LB = "203.0.113.10"
LB_V6 = "2001:db8::10"


def _origin(xff: str | None = None, proto: str | None = None, trusted: tuple[str, ...] = ()):
    raw = []
    if xff is not None:
        raw.append((b"x-forwarded-for", xff.encode()))
    if proto is not None:
        raw.append((b"x-forwarded-proto", proto.encode()))
    scope = {"type": "http", "scheme": "http", "client": ("169.254.1.1", 40000), "headers": raw}
    return client_origin(scope, Headers(scope=scope), trusted)


def test_without_forwarded_headers_the_peer_is_the_client() -> None:
    origin = _origin()
    assert (origin.ip, origin.scheme, origin.via_load_balancer) == ("169.254.1.1", "http", False)


def test_without_a_load_balancer_the_entry_cloud_runs_front_end_appended_is_the_client() -> None:
    assert _origin("198.51.100.66, 192.0.2.7").ip == "192.0.2.7"


def test_a_spoofed_first_entry_is_never_the_client() -> None:
    assert _origin("198.51.100.66, 192.0.2.7", trusted=(LB,)).ip == "192.0.2.7"
    assert _origin(f"198.51.100.66, 192.0.2.7, {LB}", trusted=(LB,)).ip == "192.0.2.7"


def test_through_the_load_balancer_the_entry_before_its_address_is_the_client() -> None:
    origin = _origin(f"192.0.2.7, {LB}", proto="https", trusted=(LB,))
    assert (origin.ip, origin.scheme, origin.via_load_balancer) == ("192.0.2.7", "https", True)


def test_load_balancer_ranges_and_ipv6_are_recognised() -> None:
    assert _origin(f"2001:db8:1::5, {LB_V6}", proto="https", trusted=("2001:db8::/64",)).ip == "2001:db8:1::5"
    assert _origin(f"192.0.2.7, {LB}", trusted=("203.0.113.0/24",)).via_load_balancer is True


def test_a_request_from_outside_the_load_balancer_cannot_claim_its_address_or_scheme() -> None:
    """The client writes the load balancer's address itself, but Cloud Run's front end appends
    the real sender after it, so the last entry is not the load balancer."""
    origin = _origin(f"10.0.0.1, {LB}, 192.0.2.99", proto="https", trusted=(LB,))
    assert (origin.ip, origin.scheme, origin.via_load_balancer) == ("192.0.2.99", "http", False)


def test_forwarded_proto_is_ignored_without_a_load_balancer() -> None:
    assert _origin("192.0.2.7", proto="https").scheme == "http"


def test_unreadable_entries_give_no_address_rather_than_the_client_supplied_text() -> None:
    assert _origin("not-an-ip").ip is None
    assert _origin(f"<script>, {LB}", trusted=(LB,)).ip is None


def test_addresses_with_ports_are_read() -> None:
    assert _origin("192.0.2.7:5555").ip == "192.0.2.7"
    assert _origin("[2001:db8::7]:5555").ip == "2001:db8::7"


def test_a_trusted_proxy_that_is_not_an_address_is_refused_with_the_setting_named() -> None:
    env = {
        "MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp",
        "MCP_AUTH_PROVIDERS": "dev",
        "MCP_AUTH_DEV_USER": "alice",
        "MCP_AUTH_TRUSTED_PROXIES": "lb.example",
    }
    with pytest.raises(ConfigError, match="MCP_AUTH_TRUSTED_PROXIES holds 'lb.example'"):
        Settings.from_env(env)
    env["MCP_AUTH_TRUSTED_PROXIES"] = f"{LB}, {LB_V6}"
    assert Settings.from_env(env).trusted_proxies == (LB, LB_V6)


def test_ipv4_addresses_are_their_own_rate_limit_key() -> None:
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") != address_key("192.0.2.8")


def test_ipv6_addresses_in_one_64_share_a_rate_limit_key() -> None:
    rotated = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:a:b:c:d", "[2001:db8:1:2::9]:443"]
    assert {address_key(a) for a in rotated} == {"2001:db8:1:2::/64"}
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")  # the next /64 is someone else


def test_ipv4_mapped_ipv6_is_keyed_as_the_ipv4_address() -> None:
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "192.0.2.7"


def test_no_address_is_one_key_and_a_non_address_is_kept_short() -> None:
    assert address_key(None) == address_key("") == "unknown"
    assert address_key("x" * 500) == "x" * 64
