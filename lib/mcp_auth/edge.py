"""The edge: what every request passes before routing. Plain ASGI.

* Host allowlist (DNS rebinding): a Host that does not name this deployment → 421.
* Origin allowlist: a browser Origin not allowed → 403; CORS closed unless origins are configured;
  preflight answered here; ``WWW-Authenticate``, ``Mcp-Session-Id``, ``MCP-Protocol-Version`` exposed.
* Size on every route: headers over 16 KiB → 431; a body over the route's cap → 413, whether it
  declares its length or streams in chunks, before anything downstream reads it (the MCP path's cap
  is ``MCP_AUTH_MAX_BODY_BYTES``; other routes declare theirs; everything else gets 16 KiB).
* Shape on the MCP path: ``/mcp/`` is served as ``/mcp`` (normalised here, so every check sees the
  route the dispatcher serves); a POST that is not ``application/json`` → 415; JSON nested deeper
  than 64 → 400 (a JSON-RPC parse error), found by a linear scan (``bounded_json``).
* Security headers on every response: ``nosniff``, ``no-store``, frame and referrer denial, and HSTS
  when the deployment is served over HTTPS.

``/healthz`` skips the Host check: liveness probes come by internal address, and it reveals nothing.
Public metadata (``GET /.well-known/…``) skips the Origin check: browser-based MCP clients on any
origin must be able to discover how to authenticate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_auth.bounded_json import MAX_DEPTH as MAX_JSON_DEPTH
from mcp_auth.bounded_json import nested_deeper_than
from mcp_auth.challenge import plain_error
from mcp_auth.config import Settings
from mcp_auth.headers import first_values, wanted
from mcp_auth.observe import record_of

MAX_HEADER_BYTES = 16 * 1024
DEFAULT_BODY_BYTES = 16 * 1024
"""The body cap of a route that declares none (OAuth forms, metadata, health, unknown paths)."""
BODY = "mcp_auth.body"
"""Scope key of the body, read once (bounded) by the edge and replayed downstream."""
_ALLOW_HEADERS = (
    "authorization, content-type, accept, mcp-protocol-version, mcp-session-id, mcp-method, "
    "mcp-name, last-event-id, x-api-key, traceparent"
)
_EXPOSE_HEADERS = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_HEADERS = wanted("origin", "host", "content-type", "content-length")


class EdgeMiddleware:
    """``body_limits`` maps a path to its body cap in bytes; the MCP path's is ``max_body_bytes``."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, mcp_path: str, body_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.mcp_alias = mcp_path.rstrip("/") + "/"
        self.body_limits = {**dict(body_limits or {}), mcp_path: settings.max_body_bytes}
        self.allowed_hosts = allowed_hosts(settings)
        self.own_origin = origin_of(settings.resource_url)
        self.cors_origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)
        self.security_headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if settings.resource_url.startswith("https://"):
            self.security_headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.mcp_alias:
            scope = {**scope, "path": self.mcp_path}
        headers = first_values(scope["headers"], _HEADERS)
        origin = headers.get("origin")
        cors = origin is not None and origin.rstrip("/").lower() in self.cors_origins
        send = self._decorating(send, origin if cors else None)
        refusal = self._refuse(scope, headers, origin, cors)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        replay = await self._checked_body(scope, receive, send)
        if replay is None:
            return
        await self.app(scope, replay, send)

    def _refuse(self, scope: Scope, headers: dict[str, str], origin: str | None, cors: bool) -> Response | None:
        if scope["path"] == "/healthz":
            return None
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            return _refused(scope, 431, "headers_too_large", f"Request headers exceed {MAX_HEADER_BYTES} bytes.")
        if (headers.get("host") or "").lower() not in self.allowed_hosts:
            return _refused(
                scope,
                421,
                "misdirected_request",
                "The Host header does not name this server (see MCP_AUTH_ALLOWED_HOSTS).",
            )
        public = scope["path"].startswith("/.well-known/") and scope["method"] in ("GET", "HEAD", "OPTIONS")
        if origin is not None and not cors and not public and origin.rstrip("/").lower() != self.own_origin:
            return _refused(
                scope, 403, "forbidden_origin", "This Origin is not allowed (see MCP_AUTH_ALLOWED_ORIGINS)."
            )
        if scope["method"] == "OPTIONS" and origin is not None:
            return Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                    "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )
        if scope["path"] == self.mcp_path and scope["method"] == "POST":
            content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _refused(scope, 415, "unsupported_media_type", "Send the JSON-RPC message as application/json.")
        limit = self.body_limit(scope["path"])
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or len(length) > 12 or int(length) > limit):
            return _too_large(scope, limit)
        return None

    def body_limit(self, path: str) -> int:
        return self.body_limits.get(path, DEFAULT_BODY_BYTES)

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the body once, never past the route's cap, check an MCP body's nesting depth, and
        replay it downstream: no route, present or future, can read an unbounded body."""
        limit = self.body_limit(scope["path"])
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, limit)(scope, receive, send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        is_mcp_post = scope["path"] == self.mcp_path and scope["method"] == "POST"
        if is_mcp_post and nested_deeper_than(body, MAX_JSON_DEPTH):
            error = {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32700, "message": f"Parse error: JSON nested deeper than {MAX_JSON_DEPTH}."},
            }
            await Response(json.dumps(error), status_code=400, media_type="application/json")(scope, receive, send)
            return None
        scope[BODY] = body  # read by the app (a client's reply to a server request is not the SDK's)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    def _decorating(self, send: Send, cors_origin: str | None) -> Send:
        extra = list(self.security_headers)
        if cors_origin is not None:
            extra += [
                (b"access-control-allow-origin", cors_origin.encode("latin-1")),
                (b"access-control-expose-headers", _EXPOSE_HEADERS.encode()),
                (b"vary", b"Origin"),
            ]

        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in extra if k not in present]
                if b"cache-control" not in present:
                    added.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        return decorated


def _refused(scope: Scope, status: int, code: str, description: str) -> Response:
    """An edge refusal; the request's log line carries its code as the outcome."""
    record = record_of(scope)
    if record is not None:
        record.outcome = code
    return plain_error(status, code, description)


def _too_large(scope: Scope, limit: int) -> Response:
    return _refused(scope, 413, "payload_too_large", f"The body exceeds {limit} bytes for this endpoint.")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_hosts(settings: Settings) -> frozenset[str]:
    hosts = {h.lower() for h in settings.allowed_hosts} or {settings.resource_host.lower()}
    parts = urlsplit(settings.resource_url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        port = f":{parts.port}" if parts.port else ""
        hosts |= {f"{h}{port}" for h in _LOOPBACK}
    return frozenset(hosts)
