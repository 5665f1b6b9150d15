"""Secret Manager for tests: a `drongo server` (a Secret Manager REST emulator)
subprocess on a free loopback port, per-test projects on it, a small admin client
that speaks the real REST API, and a loopback proxy that counts requests and can
hold them or play "unreachable".

Fixtures:
    drongo_endpoint        session: the emulator's base URL
    secret_manager         a fresh, empty project on the emulator, with admin helpers
    secret_manager_proxy   a counting proxy in front of the emulator (stopped after the test)
    unreachable_endpoint   a loopback URL where nothing listens
"""

from __future__ import annotations

import base64
import http.client
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

_START_TIMEOUT = 30.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_drongo(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    for _ in range(3):
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "drongo.cli", "server", "--host", "127.0.0.1", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        give_up = time.monotonic() + _START_TIMEOUT
        while process.poll() is None and time.monotonic() < give_up:
            try:
                if httpx.get(f"{endpoint}/drongo/health", timeout=1.0).status_code == 200:
                    return process, endpoint
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        _stop(process)
    raise RuntimeError(f"drongo server did not start; see {log_path}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def drongo_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, endpoint = _start_drongo(tmp_path_factory.mktemp("drongo") / "drongo.log")
    try:
        yield endpoint
    finally:
        _stop(process)


class SecretManagerAdmin:
    """Creates and changes secrets in one emulator project through the v1 REST API."""

    def __init__(self, endpoint: str, project: str) -> None:
        self.endpoint = endpoint
        self.project = project
        self._http = httpx.Client(base_url=f"{endpoint}/v1/projects/{project}", timeout=10.0)

    def close(self) -> None:
        self._http.close()

    def create_secret(self, secret: str, *values: bytes) -> list[str]:
        """Create a secret with one version per value; returns the version numbers."""
        response = self._http.post("/secrets", params={"secretId": secret}, json={"replication": {"automatic": {}}})
        response.raise_for_status()
        return [self.add_version(secret, value) for value in values]

    def add_version(self, secret: str, value: bytes) -> str:
        response = self._http.post(
            f"/secrets/{secret}:addVersion",
            json={"payload": {"data": base64.b64encode(value).decode("ascii")}},
        )
        response.raise_for_status()
        return str(response.json()["name"].rsplit("/", 1)[-1])

    def disable(self, secret: str, version: str) -> None:
        self._post(f"/secrets/{secret}/versions/{version}:disable")

    def enable(self, secret: str, version: str) -> None:
        self._post(f"/secrets/{secret}/versions/{version}:enable")

    def destroy(self, secret: str, version: str) -> None:
        self._post(f"/secrets/{secret}/versions/{version}:destroy")

    def delete_secret(self, secret: str) -> None:
        self._http.delete(f"/secrets/{secret}").raise_for_status()

    def state(self, secret: str, version: str) -> str:
        response = self._http.get(f"/secrets/{secret}/versions/{version}")
        response.raise_for_status()
        return str(response.json()["state"])

    def _post(self, path: str) -> None:
        self._http.post(path, json={}).raise_for_status()


@pytest.fixture
def secret_manager(drongo_endpoint: str) -> Iterator[SecretManagerAdmin]:
    """An empty project of its own on the shared emulator."""
    admin = SecretManagerAdmin(drongo_endpoint, f"test-{uuid.uuid4().hex[:12]}")
    try:
        yield admin
    finally:
        admin.close()


class CountingProxy:
    """An HTTP proxy on loopback that forwards to `upstream` and counts requests.

    `reachable = False` makes it drop every request without an answer (the client
    sees the connection closed); `hold()` parks requests until `release()`.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._held = 0
        self._gate = threading.Event()
        self._gate.set()
        self.reachable = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def count(self, fragment: str = "") -> int:
        """How many requests arrived whose "METHOD /path" contains `fragment`."""
        with self._lock:
            return sum(n for key, n in self._requests.items() if fragment in key)

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def stop(self) -> None:
        self._gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self._requests[f"{handler.command} {urlsplit(handler.path).path}"] += 1
        if not self.reachable:
            handler.close_connection = True
            return
        with self._lock:
            self._held += 1
        self._gate.wait()
        with self._lock:
            self._held -= 1
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        try:
            handler.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up waiting (a held request past its deadline)
            handler.close_connection = True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                proxy._forward(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def secret_manager_proxy(drongo_endpoint: str) -> Iterator[CountingProxy]:
    proxy = CountingProxy(drongo_endpoint)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def unreachable_endpoint() -> str:
    """A loopback URL with no listener: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"
