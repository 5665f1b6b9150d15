"""A lean load generator: raw aiohttp POSTs of one JSON-RPC body, closed loop.

``concurrency`` clients share one keep-alive connection pool; each sends its
next request as soon as the previous answer has been read in full. An answer
counts as good when it is HTTP 200 and holds a JSON-RPC ``result`` that is not
a tool error; anything else (status, transport error, timeout) is an error.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

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


async def run_load(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    concurrency: int,
    duration: float,
    warmup: int = 0,
    request_timeout: float = 30.0,
) -> LoadResult:
    """Closed-loop load for ``duration`` seconds after ``warmup`` unmeasured requests per client."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    result = LoadResult(concurrency=concurrency, seconds=0.0)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def one(record: bool) -> None:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                if record:
                    result.errors += 1
                    kind = type(error).__name__
                    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
                return
            if not record:
                return
            if answered(status, payload):
                result.latencies.append(time.perf_counter() - started)
            else:
                result.errors += 1
                kind = f"HTTP {status}" if status != 200 else "bad answer"
                result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1

        ready: list[int] = [0]
        all_ready = asyncio.Event()
        start = asyncio.Event()
        deadline = [0.0]

        async def client() -> None:
            for _ in range(warmup):
                await one(False)
            ready[0] += 1
            if ready[0] == concurrency:
                all_ready.set()
            await start.wait()
            while time.perf_counter() < deadline[0]:
                await one(True)

        tasks = [asyncio.create_task(client()) for _ in range(concurrency)]
        waiting = asyncio.ensure_future(all_ready.wait())
        await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)  # a client that fails stops it
        waiting.cancel()
        began = time.perf_counter()
        deadline[0] = began + duration
        start.set()
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - began
    return result
