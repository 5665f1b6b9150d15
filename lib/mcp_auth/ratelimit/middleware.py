"""``ToolRateLimitMiddleware``: the per-user, per-tool limit inside the MCP server.

Appended to each built server's middleware (like the deadline and scope
middlewares), it sees every ``tools/call`` of either protocol generation, with
the tool's name, whether or not the client sent ``Mcp-Name``. A used-up window
becomes a JSON-RPC error (code ``RATE_LIMITED_CODE``) whose ``data`` carries
``retry_after`` in seconds.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from mcp_auth.context import current_user
from mcp_auth.ratelimit.limiter import RateLimiter, tool_key
from mcp_auth.ratelimit.responses import rate_limited_error
from mcp_auth.rates import RateLimits


class ToolRateLimitMiddleware:
    def __init__(self, limiter: RateLimiter, limits: RateLimits) -> None:
        self._limiter = limiter
        self._limits = limits

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            name = ctx.params.get("name") if ctx.params else None
            if isinstance(name, str):
                user = current_user()
                rate = self._limits.for_user("tool", user.record.quotas, tool=name)
                decision = await self._limiter.check("tool", tool_key(user.record.uid, name), rate)
                if not decision.allowed:
                    raise rate_limited_error(decision)
        return await call_next(ctx)
