"""The request every benchmark sends, what counts as a good answer, and latency statistics.

``echo_call`` is a ``tools/call`` of ``echo`` as a client of one protocol
generation sends it; ``raw_request`` is the same call as bytes on the wire (what
the load generator, ``wrk`` with ``bench/wrk.lua``, replays). An answer counts as
good when it is HTTP 200 and holds a JSON-RPC ``result`` that is not a tool
error, in a JSON body or in the last ``data:`` line of an SSE stream (the Lua
script applies the same rule). ``LoadResult`` holds the latencies of a Python
client (the hardening soak's mixed load uses it).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
PROTOCOLS = (MODERN, HANDSHAKE)


def echo_call(protocol: str, *, text: str = "hello", request_id: int = 1) -> tuple[dict[str, str], bytes]:
    """Headers and body of a ``tools/call`` of ``echo`` as a client of ``protocol`` sends it."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": protocol,
    }
    params: dict[str, Any] = {"name": "echo", "arguments": {"text": text}}
    if protocol == MODERN:
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": "echo"}
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    return headers, json.dumps(body).encode()


def answered(status: int, body: bytes) -> bool:
    """A 200 whose JSON (or SSE ``data:``) payload is a JSON-RPC result that is not a tool error."""
    if status != 200:
        return False
    text = body.decode(errors="replace")
    if text.startswith("event:") or text.startswith("data:") or text.startswith(":"):
        payloads = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = payloads[-1] if payloads else ""
    try:
        message = json.loads(text)
    except ValueError:
        return False
    result = message.get("result") if isinstance(message, dict) else None
    return isinstance(result, dict) and result.get("isError") is False


def raw_request(url: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The HTTP/1.1 POST of ``body`` to ``url`` with ``headers`` (keep-alive), as bytes on the wire."""
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() not in ("host", "content-length")]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency in milliseconds at percentile ``p`` (0-100), nearest rank."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "requests": self.ok + self.errors,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p95_ms": round(self.percentile(95), 3),
            "p99_ms": round(self.percentile(99), 3),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 3) if self.latencies else float("nan"),
        }
