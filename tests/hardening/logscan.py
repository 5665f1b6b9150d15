"""Reading a function's JSON log lines: the requests it answered with a server error."""

from __future__ import annotations

import json


def server_errors(output: str) -> list[str]:
    """The request log lines (``mcp_auth.request``) whose status is 5xx other than 503, and uncaught tracebacks."""
    found = []
    for line in output.splitlines():
        if "Traceback (most recent call last)" in line:
            found.append(line[:300])
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        status = (entry.get("httpRequest") or {}).get("status") if isinstance(entry, dict) else None
        if isinstance(status, int) and status >= 500 and status != 503:
            found.append(line[:300])
    return found
