"""The client's address and scheme, read only from headers Google's front ends wrote.

``X-Forwarded-For`` is a list the client may start with anything it likes; Google's front end
(Cloud Run's, or the global external Application Load Balancer's) appends the address it saw,
and the load balancer then appends its own address. So entries are trusted from the right:

- No load balancer configured: the last entry is the client (Cloud Run's front end added it).
- Load balancer configured (``MCP_AUTH_TRUSTED_PROXIES`` holds its addresses): a request whose
  last entry is one of them came through it, so the entry before is the client and
  ``X-Forwarded-Proto`` is the scheme the client used. Any other request reached the function
  some other way: its last entry is the client, and ``X-Forwarded-Proto`` is ignored.

Entries further left are never read: a client can write them.

``address_key`` turns the address into the key every per-address rate limit counts under: an
IPv6 client holds a whole /64 (and picks addresses from it freely), so the /64 is the key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mcp_auth.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAX_HEADER = 4096  # longer X-Forwarded-For values are cut from the left: only the right end is read


@dataclass(frozen=True)
class ClientOrigin:
    """Who sent the request: ``ip`` (None when unknown), ``scheme``, and whether it came
    through the configured load balancer."""

    ip: str | None
    scheme: str
    via_load_balancer: bool


def parse_networks(values: Iterable[str], *, setting: str = "MCP_AUTH_TRUSTED_PROXIES") -> tuple[Network, ...]:
    """Addresses or CIDR ranges; a clear error naming the bad entry otherwise."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"{setting} holds {value!r}, which is not an IP address or range: list the load balancer's "
                "addresses, comma-separated (e.g. 203.0.113.10,2001:db8::10)."
            ) from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(trusted)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_origin(scope: Mapping[str, Any], headers: Mapping[str, str], trusted: tuple[str, ...] = ()) -> ClientOrigin:
    """The client's address and scheme for one ASGI request (see the module docstring)."""
    networks = _networks(tuple(trusted))
    peer = scope.get("client")
    scheme = str(scope.get("scheme") or "http")
    forwarded = str(headers.get("x-forwarded-for") or "")[-_MAX_HEADER:]
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if not hops:
        return ClientOrigin(ip=peer[0] if peer else None, scheme=scheme, via_load_balancer=False)
    last = _address(hops[-1])
    if networks and last is not None and any(last in n for n in networks) and len(hops) >= 2:
        client = _address(hops[-2])
        proto = str(headers.get("x-forwarded-proto") or "").split(",")[-1].strip().lower()
        return ClientOrigin(
            ip=str(client) if client is not None else None,
            scheme=proto if proto in ("http", "https") else scheme,
            via_load_balancer=True,
        )
    return ClientOrigin(ip=str(last) if last is not None else None, scheme=scheme, via_load_balancer=False)


@lru_cache(maxsize=4096)
def address_key(ip: str | None) -> str:
    """The rate-limit key of a client address: an IPv4 address as is, an IPv6 address as its /64
    network (one subscriber's allocation: rotating addresses inside it changes nothing), an IPv4-mapped
    IPv6 address as the IPv4 address, and ``"unknown"`` when there is none. A value that is not an
    address (a test client's name, say) is its own key, cut to 64 characters."""
    if not ip:
        return "unknown"
    address = _address(ip)
    if address is None:
        return ip.strip()[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)
