"""What the checks before authentication cost, on this machine: ``python -m bench.preauth``.

Each figure is the median of several timed runs of one check on one input, in process (no network):
the worst inputs we know for each check (the ones that made earlier versions quadratic) beside an
ordinary one. ``docs/security.md`` quotes a run of it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

MIB = 1024 * 1024


def _median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def measure() -> list[tuple[str, str, float]]:
    from mcp_auth.bounded_json import nested_deeper_than
    from mcp_auth.logs import redact
    from mcp_auth.proxies import address_key, client_origin

    call = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'
    depth = {
        "a tools/call (100 B)": call,
        "1 MiB ordinary JSON": b'{"a": "' + b"x" * (MIB - 10) + b'"}',
        "1 MiB escaped quotes after 65 brackets": b"[" * 65 + b'"' + b'\\"' * (MIB // 2),
        "1 MiB of open brackets": b"[" * MIB,
        "1 MiB of depth-64 arrays": (b"[" * 64 + b"]" * 64) * (MIB // 128),
    }
    rows = [
        ("JSON depth scan", name, _median_ms(lambda b=body: nested_deeper_than(b, 64), 5 if len(body) > 1000 else 2000))
        for name, body in depth.items()
    ]
    lines = {"a request's log line (200 B)": "POST /mcp 401 " * 14, "1 MB of 'eyJ' runs": "eyJ" * 350_000}
    rows += [
        ("log redaction", name, _median_ms(lambda t=text: redact(t), 5 if len(text) > 1000 else 2000))
        for name, text in lines.items()
    ]
    forwarded = {"x-forwarded-for": ", ".join(f"2001:db8::{n:x}" for n in range(800))[:16_000]}
    rows.append(
        (
            "X-Forwarded-For",
            "16 KB of entries",
            _median_ms(lambda: address_key(client_origin({"client": ("127.0.0.1", 1)}, forwarded).ip), 200),
        )
    )
    rows.append(("whole pipeline, no credential", "POST /mcp -> 401", _unauthenticated_request_ms()))
    return rows


def _unauthenticated_request_ms() -> float:
    import httpx
    from mcp.server.mcpserver import MCPServer

    from mcp_auth import Settings, wrap_server

    settings = Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp",
            "MCP_AUTH_JWT_ISSUER": "https://issuer.example/",
            "MCP_AUTH_JWT_HS256_KEY": "k" * 48,
            "MCP_AUTH_RATE_LIMIT_IP": "off",
            "MCP_AUTH_LOG_LEVEL": "ERROR",
        }
    )
    app = wrap_server(lambda record: MCPServer("bench"), settings=settings)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

    async def run() -> float:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://mcp.example.com") as c:
            for _ in range(50):
                await c.post("/mcp", headers=headers, content=b"{}")
            started = time.perf_counter()
            for _ in range(500):
                await c.post("/mcp", headers=headers, content=b"{}")
            return (time.perf_counter() - started) / 500 * 1e3

    return asyncio.run(run())


def main() -> None:
    print("| check | input | median ms |")
    print("|---|---|---|")
    for check, name, ms in measure():
        print(f"| {check} | {name} | {ms:.3f} |")


if __name__ == "__main__":
    main()
