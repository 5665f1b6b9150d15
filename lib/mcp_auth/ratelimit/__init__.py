"""Distributed rate limits: per user, per tool and per client IP (see docs/rate-limits.md)."""

from mcp_auth.ratelimit.limiter import ALLOW, Decision, RateLimited, RateLimiter, tool_key, window_id
from mcp_auth.ratelimit.middleware import ToolRateLimitMiddleware
from mcp_auth.ratelimit.responses import (
    RATE_LIMITED_CODE,
    rate_limited_error,
    rate_limited_response,
    retry_error_data,
)
from mcp_auth.ratelimit.windows import FirestoreWindows, Grant, MemoryWindows, WindowStore
from mcp_auth.rates import KINDS, Rate, RateLimits, lease_size, parse_rate

__all__ = [
    "ALLOW",
    "KINDS",
    "Decision",
    "FirestoreWindows",
    "Grant",
    "MemoryWindows",
    "RATE_LIMITED_CODE",
    "Rate",
    "RateLimited",
    "RateLimiter",
    "RateLimits",
    "ToolRateLimitMiddleware",
    "WindowStore",
    "lease_size",
    "parse_rate",
    "rate_limited_error",
    "rate_limited_response",
    "retry_error_data",
    "tool_key",
    "window_id",
]
