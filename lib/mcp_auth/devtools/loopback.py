"""Development stand-ins served on loopback by ``mcp-auth dev``, and what they have in common.

LoopbackServer(app)      an ASGI app served by uvicorn in a thread of this process, on 127.0.0.1 only,
                         on a port it binds itself (no race with another server for a free port); no
                         access log (its URLs would carry OAuth states), bounded concurrency
refuse_on_cloud_run(w)   ConfigError when ``K_SERVICE`` is set: every stand-in is for local work only
read_body(request, cap)  the request body, at most ``cap`` bytes (TooLarge beyond, before reading it all)
"""

from __future__ import annotations

import os
import socket
import threading
import time

from starlette.requests import Request
from starlette.types import ASGIApp

from mcp_auth.errors import ConfigError

MAX_CONNECTIONS = 32


def refuse_on_cloud_run(what: str) -> None:
    if os.environ.get("K_SERVICE"):
        raise ConfigError(f"{what} is for local development only and refuses to start on Cloud Run (K_SERVICE is set).")


class TooLarge(Exception):
    """The request body is larger than the stand-in accepts."""


async def read_body(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise TooLarge
    return bytes(body)


class LoopbackServer:
    """``app`` on ``http://127.0.0.1:{port}``, served by a daemon thread until ``stop``."""

    def __init__(self, app: ASGIApp, *, port: int = 0) -> None:
        import uvicorn

        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind(("127.0.0.1", port))
        except OSError:
            self._socket.close()
            raise
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            limit_concurrency=MAX_CONNECTIONS,
            timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"loopback-{self.port}", daemon=True)

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self, timeout: float = 10.0) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"The local stand-in on {self.url} did not start.")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()
