"""A round-robin HTTP reverse proxy on loopback: each request goes to the next backend.

    round_robin_proxy   factory: round_robin_proxy() -> RoundRobinProxy (.url, .host);
                        then proxy.route_to([base_url, ...]); .hits counts per backend;
                        stopped after the test

Responses are streamed through (SSE stays live), repeated response headers kept apart; the client's
Host header is kept, as a load balancer in front of a custom domain does.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

from mcp_auth.devtools.emulator import free_port

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


class RoundRobinProxy:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self._next: Iterator[str] = iter(())
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _app(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        client = httpx.AsyncClient(timeout=httpx.Timeout(60))
        request = Request(scope, receive)
        backend = next(self._next)
        self.hits[backend] += 1
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        upstream = client.build_request(
            request.method,
            backend + request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            headers=headers,
            content=await request.body(),
        )
        try:
            response = await client.send(upstream, stream=True)
            forwarded = StreamingResponse(
                response.aiter_raw(),
                status_code=response.status_code,
                background=BackgroundTask(_close, response, client),
            )
            # Repeated headers (two Set-Cookie, say) are kept apart, as a load balancer keeps them.
            forwarded.raw_headers = [
                (k.lower().encode(), v.encode()) for k, v in response.headers.multi_items() if k.lower() not in _HOP
            ]
            await forwarded(scope, receive, send)
        finally:  # also when the client went away mid-stream: no connection is left for the collector to report
            if not client.is_closed:
                await client.aclose()

    def route_to(self, backends: list[str]) -> None:
        self._next = itertools.cycle(backends)

    def start(self) -> RoundRobinProxy:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the proxy did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


async def _close(response: httpx.Response, client: httpx.AsyncClient) -> None:
    await response.aclose()
    await client.aclose()


@pytest.fixture
def round_robin_proxy() -> Iterator[Callable[[], RoundRobinProxy]]:
    proxies: list[RoundRobinProxy] = []

    def start() -> RoundRobinProxy:
        proxy = RoundRobinProxy().start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()
