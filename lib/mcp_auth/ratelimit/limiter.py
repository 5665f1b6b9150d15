"""``RateLimiter``: per-instance leases in front of shared Firestore windows.

Each instance keeps, per (kind, key), the units it has leased from the current
window. A request spends local units; only when they run out does the instance
take a new lease from the shared window (one Firestore write). The first
written lease of a window is ``lease`` units and each further one in the same
window twice the one before, so a key served often costs a few writes per
window, not one per ``lease`` requests; every lease is also at most an eighth
of what the window had left (``rate.lease_size``), so near the limit leases
shrink to one unit. Once the shared window has nothing left, the instance
remembers that until the window ends, so denied requests cost no Firestore
call either.

The first units of a window are taken on **credit** (``user`` and ``tool``
limits; address limits stay exact): an instance admits up to ``credit`` units
of a key (never more than an eighth of the limit) before it writes anything,
and reports them with its first lease. A key used lightly - a person making a
few calls a minute - so costs no write at all, however many keys there are.

Guarantees while Firestore answers: no more than ``limit`` units per window
across all instances, plus credit not yet reported when the window filled:
with ``N`` instances serving a key in one window, at most ``N x credit`` units
beyond the limit, for that window only (``credit=0`` gives the exact count).
Units leased by one instance and not spent before the window ends are lost,
so the total admitted can fall short of the limit, per instance that served
the key, by less than its last lease: at most ``lease - 1`` units, or as many
as the instance had already spent of that key in the window, and never more
than an eighth of what the window had left. As with any fixed window, a client
can spend one window's limit at its end and the next window's at the start of
the next.

When Firestore fails or times out the limiter fails open to a per-instance
count against the same limit (so the whole deployment admits at most
``instances x limit`` per window), and logs that once per window and key kind.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import LRUCache

from mcp_auth.errors import McpAuthError
from mcp_auth.ratelimit.windows import TIMEOUT, WindowStore
from mcp_auth.rates import KINDS, Rate, lease_size

logger = logging.getLogger("mcp_auth.ratelimit")
CREDIT_KINDS = frozenset({"user", "tool"})
"""The kinds counted on credit: authenticated users' own. Address limits, which count unauthenticated
traffic, are always counted exactly."""
MAX_DOUBLINGS = 20
"""A lease grows to at most ``lease`` x 2**20 units (the eighth-of-what-is-left rule binds long before)."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until the window ends; 0 when allowed
    limit: int = 0  # the limit that applied (0: unlimited)
    kind: str = ""


ALLOW = Decision(allowed=True)


class RateLimited(McpAuthError):
    """A rate limit was exceeded: HTTP 429 with ``Retry-After``."""

    status = 429

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"Too many requests: the {decision.kind} limit of {decision.limit} per window is used up; "
            f"retry in {decision.retry_after} s."
        )
        self.decision = decision
        self.retry_after = decision.retry_after


@dataclass(slots=True)
class _Local:
    window: int = -1
    tokens: int = 0  # units leased from the shared window and not yet spent
    exhausted: bool = False  # the shared window has nothing left
    fallback: int = 0  # units admitted on local count while the store failed
    logged: bool = False  # the first denial of this window has been logged
    remaining: int | None = None  # what the shared window had left at the last lease
    leases: int = 0  # leases taken in this window: the next is ``lease`` doubled this many times
    credited: int = 0  # units admitted on credit and not yet reported to the shared window
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def roll(self, window: int) -> None:
        if window != self.window:
            self.window, self.tokens, self.exhausted, self.fallback, self.logged = window, 0, False, 0, False
            self.remaining, self.leases, self.credited = None, 0, 0


class RateLimiter:
    """Fixed-window limits shared across instances through a ``WindowStore``."""

    def __init__(
        self,
        store: WindowStore,
        *,
        lease: int = 10,
        credit: int = 0,
        clock: Callable[[], float] = time.time,
        max_keys: int = 100_000,
    ) -> None:
        if lease < 1:
            raise ValueError(f"lease must be at least 1, not {lease}.")
        if credit < 0:
            raise ValueError(f"credit must be at least 0, not {credit}.")
        self._store = store
        self._lease = lease
        self._credit = credit
        self._clock = clock
        self._local: LRUCache[tuple[str, str, int], _Local] = LRUCache(maxsize=max_keys)
        self._store_failed_window: dict[str, int] = {}

    def blocked(self, kind: str, key: str, rate: Rate | None) -> Decision:
        """Local-only look: denied if this instance already knows the window is used up (no I/O)."""
        if rate is None:
            return ALLOW
        now = self._clock()
        local = self._local.get((kind, key, rate.period))
        if local is None or local.window != rate.window(now) or local.tokens or not local.exhausted:
            return ALLOW
        return Decision(False, rate.retry_after(now), rate.limit, kind)

    async def check(self, kind: str, key: str, rate: Rate | None, cost: int = 1) -> Decision:
        """Spend ``cost`` units of ``key``'s current window; never raises on store trouble."""
        if kind not in KINDS:
            raise ValueError(f"Unknown rate-limit kind {kind!r}; use one of {', '.join(KINDS)}.")
        if rate is None:
            return ALLOW
        if cost < 1:
            raise ValueError(f"cost must be at least 1, not {cost}.")
        slot = (kind, key, rate.period)
        local = self._local.get(slot)
        if local is None:
            local = self._local[slot] = _Local()
        async with local.lock:
            now = self._clock()
            window = rate.window(now)
            if local.window != window:
                local.roll(window)
                if kind in CREDIT_KINDS:
                    local.tokens = local.credited = min(self._credit, rate.limit // 8)
            if local.tokens >= cost:
                local.tokens -= cost
                return Decision(True, 0, rate.limit, kind)
            if not local.exhausted and cost <= rate.limit:
                admitted = await self._take_lease(kind, key, rate, window, cost, local)
                if admitted:
                    return Decision(True, 0, rate.limit, kind)
            decision = Decision(False, rate.retry_after(self._clock()), rate.limit, kind)
            if not local.logged:
                local.logged = True
                logger.warning(
                    "rate limit exceeded: %s limit %d per %d s; further denials in this window are not logged",
                    kind,
                    rate.limit,
                    rate.period,
                    extra={
                        "rate_limit": {
                            "kind": kind,
                            "key": key,
                            "limit": rate.limit,
                            "period": rate.period,
                            "retry_after": decision.retry_after,
                        }
                    },
                )
            return decision

    async def _take_lease(self, kind: str, key: str, rate: Rate, window: int, cost: int, local: _Local) -> bool:
        if local.credited:  # the credit's unspent units go back: only what was admitted on it is reported
            local.credited -= local.tokens
            local.tokens = 0
        need = cost - local.tokens
        reported = local.credited  # admitted on credit: added to the shared count ahead of the new lease
        hint = rate.limit - reported if local.remaining is None else local.remaining
        size = self._lease << min(local.leases + (reported > 0), MAX_DOUBLINGS)
        amount = max(need, lease_size(need=need, remaining=max(hint, need), lease=size))
        try:
            grant = await asyncio.wait_for(
                self._store.acquire(
                    window_id(kind, key, rate, window),
                    amount=reported + amount,
                    limit=rate.limit,
                    expires_at=(window + 2) * rate.period,
                ),
                timeout=TIMEOUT * 2,
            )
        except Exception as exc:
            if self._store_failed_window.get(kind) != window:
                self._store_failed_window[kind] = window
                logger.error(
                    "rate-limit store unavailable (%s); counting %s limits per instance for this window",
                    type(exc).__name__,
                    kind,
                )
            local.fallback += reported  # what was admitted on credit counts against the local limit too
            local.credited = 0
            if local.fallback + cost > rate.limit:
                return False
            local.fallback += cost
            return True
        # the first ``reported`` units of the range belong to the credit already spent, the rest to the lease
        local.credited = 0
        local.tokens += max(0, grant.granted - reported)
        local.leases += 1
        local.remaining = grant.remaining
        local.exhausted = grant.remaining <= 0
        if local.tokens < cost:
            return False
        local.tokens -= cost
        return True


def window_id(kind: str, key: str, rate: Rate, window: int) -> str:
    """The shared document id: kind, period, a hash of the key (ids and IPs stay out of ids) and the window."""
    digest = hashlib.sha256(f"{kind}\x00{key}".encode()).hexdigest()[:40]
    return f"{kind}-{rate.period}-{digest}-{window}"


def tool_key(uid: str, tool: str) -> str:
    """The key for a per-user, per-tool limit."""
    return f"{uid}\x00{tool}"
