"""Rates (``"120/minute"``), fixed windows and lease sizing: the pure part of rate limiting.

A rate is ``N/unit`` or ``N/K units`` (units: second, minute, hour, day), or ``off``.
Windows are fixed and aligned to the epoch, so every instance agrees on which
window a moment belongs to without talking to the others.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mcp_auth.errors import ConfigError

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*(\d{1,6})?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
DEPLOYMENT_KINDS = ("ip", "user", "tool")
"""The limits ``RateLimits`` holds (``MCP_AUTH_RATE_LIMIT_*``)."""
KINDS = (*DEPLOYMENT_KINDS, "oauth_authorize", "oauth_token")
"""Every kind the limiter counts: the deployment's, and the built-in authorization server's
per-address limits on ``/oauth/authorize`` and ``/oauth/token``."""


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    period: int  # seconds

    def __post_init__(self) -> None:
        if self.limit < 1 or not 1 <= self.period <= 86400:
            raise ConfigError(f"A rate needs a limit of at least 1 and a period of 1 s to 1 day, not {self}.")

    def window(self, now: float) -> int:
        """The index of the window that ``now`` (epoch seconds) falls in."""
        return int(now // self.period)

    def retry_after(self, now: float) -> int:
        """Whole seconds until the current window ends (at least 1): the ``Retry-After`` value."""
        end = (self.window(now) + 1) * self.period
        return max(1, math.ceil(end - now))

    def __str__(self) -> str:
        return f"{self.limit}/{self.period}seconds"


def parse_rate(text: str, *, setting: str = "rate") -> Rate | None:
    """``"120/minute"`` -> Rate(120, 60); ``"off"`` -> None. Raises ConfigError naming ``setting``."""
    if not isinstance(text, str):
        raise ConfigError(f"{setting} must be a string such as '120/minute' or 'off'.")
    if text.strip().lower() == "off":
        return None
    match = _RATE.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"{setting}={text!r} is not a rate: write N/unit or N/K units (second, minute, hour, day), "
            "e.g. '120/minute' or '1000/5 minutes', or 'off'."
        )
    count, multiple, unit = match.groups()
    period = int(multiple or 1) * _UNITS[unit.lower()]
    if period > 86400:
        raise ConfigError(f"{setting}={text!r}: the longest window is one day.")
    if int(count) < 1:
        raise ConfigError(f"{setting}={text!r}: the limit must be at least 1 (use 'off' for no limit).")
    return Rate(int(count), period)


def lease_size(*, need: int, remaining: int, lease: int) -> int:
    """How many units an instance takes from the shared window at once.

    At least ``need`` (the cost of the request at hand), otherwise up to
    ``lease`` but never more than an eighth of what is left, so that near the
    limit instances take one unit at a time and little is stranded in leases.
    Returns 0 when the window cannot cover ``need``.
    """
    if remaining < need:
        return 0
    return min(remaining, max(need, min(lease, remaining // 8)))


DEFAULT_CREDIT = 100
"""Units of a key's window an instance admits before its first write: at most this, and never more than an
eighth of the limit (``RateLimiter``), so with N instances a key can pass its limit by at most N/8 of it."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The deployment's limits per kind (None = unlimited), the lease size and the credit."""

    ip: Rate | None = None
    user: Rate | None = None
    tool: Rate | None = None
    lease: int = 10
    credit: int = DEFAULT_CREDIT

    def __post_init__(self) -> None:
        if not 1 <= self.lease <= 1000:
            raise ConfigError(f"MCP_AUTH_RATE_LIMIT_LEASE must be 1-1000, not {self.lease}.")
        if not 0 <= self.credit <= 1000:
            raise ConfigError(f"MCP_AUTH_RATE_LIMIT_CREDIT must be 0-1000, not {self.credit}.")

    @classmethod
    def from_strings(
        cls,
        *,
        ip: str = "60/minute",
        user: str = "600/minute",
        tool: str = "120/minute",
        lease: int | str = 10,
        credit: int | str = DEFAULT_CREDIT,
    ) -> RateLimits:
        return cls(
            ip=parse_rate(ip, setting="MCP_AUTH_RATE_LIMIT_IP"),
            user=parse_rate(user, setting="MCP_AUTH_RATE_LIMIT_USER"),
            tool=parse_rate(tool, setting="MCP_AUTH_RATE_LIMIT_TOOL"),
            lease=_whole(lease, "MCP_AUTH_RATE_LIMIT_LEASE"),
            credit=_whole(credit, "MCP_AUTH_RATE_LIMIT_CREDIT"),
        )

    def for_user(self, kind: str, quotas: Mapping[str, str] | None = None, *, tool: str | None = None) -> Rate | None:
        """The rate for ``kind``, with a user's ``quotas`` overriding the deployment's.

        Quota keys: ``user``, ``tool`` (every tool) and ``tool:<name>`` (one tool).
        A quota that does not parse is ignored in favour of the deployment's limit.
        """
        if kind not in DEPLOYMENT_KINDS:
            raise ValueError(f"Unknown rate-limit kind {kind!r}; use one of {', '.join(DEPLOYMENT_KINDS)}.")
        default: Rate | None = getattr(self, kind)
        if kind == "ip" or not quotas:
            return default
        names = ([f"tool:{tool}"] if kind == "tool" and tool else []) + [kind]
        for name in names:
            value = quotas.get(name)
            if isinstance(value, str):
                try:
                    return parse_rate(value, setting=f"quotas.{name}")
                except ConfigError:
                    return default
        return default


def _whole(value: int | str, setting: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{setting} must be a whole number, not {value!r}.") from None
