"""What a client sees when a limit is exceeded: HTTP 429 before dispatch, or a JSON-RPC error inside a call."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from mcp_auth.ratelimit.limiter import Decision

RATE_LIMITED_CODE = -32029
"""JSON-RPC error code (implementation-defined range) for a limit hit inside a tool call."""


def rate_limited_response(decision: Decision) -> Response:
    """HTTP 429 with ``Retry-After`` and a JSON body naming the limit that was hit."""
    body = {
        "error": "rate_limited",
        "error_description": (
            f"Too many requests: the {decision.kind} limit of {decision.limit} per window is used up; "
            f"retry in {decision.retry_after} s."
        ),
        "retry_after": decision.retry_after,
    }
    return Response(
        json.dumps(body),
        status_code=429,
        media_type="application/json",
        headers={"Retry-After": str(decision.retry_after), "Cache-Control": "no-store"},
    )


def retry_error_data(decision: Decision) -> dict[str, Any]:
    """``data`` for a JSON-RPC error (code ``RATE_LIMITED_CODE``) raised inside a tool call."""
    return {"kind": decision.kind, "limit": decision.limit, "retry_after": decision.retry_after}


def rate_limited_error(decision: Decision) -> Exception:
    """The exception a tool handler raises: the client gets a JSON-RPC error carrying ``retry_after``."""
    from mcp.shared.exceptions import MCPError

    return MCPError(
        RATE_LIMITED_CODE,
        f"Rate limit exceeded ({decision.kind}, {decision.limit} per window); retry in {decision.retry_after} s.",
        retry_error_data(decision),
    )
