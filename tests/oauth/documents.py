"""A loopback HTTP server that serves Client ID Metadata Documents (and hostile variants)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class DocumentServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self.port = server.server_address[1]
        self.documents: dict[str, bytes] = {}
        self.delays: dict[str, float] = {}
        self.hits: Counter[str] = Counter()  # GET requests per path

    @property
    def base(self) -> str:
        """The plain-http loopback origin (for settings that take a URL, such as the upstream issuer)."""
        return f"http://127.0.0.1:{self.port}"

    def client_id(self, path: str) -> str:
        """The https URL a client uses as its id; the test deployment fetches it over loopback http."""
        return f"https://127.0.0.1:{self.port}{path}"

    def publish(self, path: str, document: dict[str, Any] | bytes, *, delay: float = 0.0) -> str:
        self.documents[path] = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.delays[path] = delay
        return self.client_id(path)


@contextmanager
def serve_documents() -> Iterator[DocumentServer]:
    holder: list[DocumentServer] = []
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            docs = holder[0]
            docs.hits[self.path] += 1
            body = docs.documents.get(self.path)
            if body is None:
                self.send_error(404)
                return
            stopping.wait(docs.delays.get(self.path, 0.0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(DocumentServer(server))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        time.sleep(0)
