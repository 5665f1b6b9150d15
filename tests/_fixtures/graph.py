"""A loopback stand-in for Microsoft Graph's list of a signed-in user's groups (Entra groups overage).

graph_stand_in   make(userinfo_endpoint) -> GraphStandIn, an HTTP server on loopback (stopped after the test):
                 GET /v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999
                     the bearer token's account (asked of the OpenID stand-in's userinfo endpoint, as a resource
                     server would check it: 401 if it refuses) and its groups from .groups[sub], .page_size per
                     page with @odata.nextLink ($skiptoken) to the rest
                 .answers: (status, raw bytes) answered next, whatever is asked, in order
                 .requests: the path of each request; .tokens: the bearer token of each
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

GROUPS_PATH = "/v1.0/me/transitiveMemberOf/microsoft.graph.group"


class GraphStandIn:
    def __init__(self, userinfo: str) -> None:
        self.userinfo = userinfo
        self.groups: dict[str, list[str]] = {}
        self.page_size = 999
        self.answers: list[tuple[int, bytes]] = []
        self.requests: list[str] = []
        self.tokens: list[str] = []
        self.url = ""

    def answer(self, path: str, authorization: str) -> tuple[int, bytes]:
        self.requests.append(path)
        if self.answers:
            return self.answers.pop(0)
        parts = urlsplit(path)
        if parts.path != GROUPS_PATH:
            return 404, b'{"error": {"code": "Request_ResourceNotFound"}}'
        token = authorization.removeprefix("Bearer ")
        self.tokens.append(token)
        who = httpx.get(self.userinfo, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if who.status_code != 200:
            return 401, b'{"error": {"code": "InvalidAuthenticationToken"}}'
        groups = self.groups.get(str(who.json().get("sub")), [])
        skip = int(parse_qs(parts.query).get("$skiptoken", ["0"])[0])
        page: dict[str, Any] = {"value": [{"@odata.type": "#microsoft.graph.group", "id": g} for g in groups]}
        page["value"] = page["value"][skip : skip + self.page_size]
        if skip + self.page_size < len(groups):
            page["@odata.nextLink"] = f"{self.url}{GROUPS_PATH}?$select=id&$top=999&$skiptoken={skip + self.page_size}"
        return 200, json.dumps(page).encode()


@pytest.fixture
def graph_stand_in() -> Iterator[Callable[[str], GraphStandIn]]:
    servers: list[ThreadingHTTPServer] = []

    def make(userinfo: str) -> GraphStandIn:
        graph = GraphStandIn(userinfo)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = graph.answer(self.path, self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        graph.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return graph

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
