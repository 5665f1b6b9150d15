"""The edge: what every request passes before routing. Plain ASGI.

* Host allowlist (DNS rebinding): a Host that does not name this deployment → 421.
* Origin allowlist: a browser Origin not allowed → 403; CORS closed unless origins are configured;
  preflight answered here; ``WWW-Authenticate``, ``Mcp-Session-Id``, ``MCP-Protocol-Version`` exposed.
* Size and shape on the MCP path: headers over 16 KiB → 431, a body over the cap → 413, a POST that
  is not ``application/json`` → 415, JSON nested deeper than 64 → 400 (a JSON-RPC parse error).
* Security headers on every response: ``nosniff``, ``no-store``, frame and referrer denial, and HSTS
  when the deployment is served over HTTPS.

``/healthz`` skips the Host check: liveness probes come by internal address, and it reveals nothing.
Public metadata (``GET /.well-known/…``) skips the Origin check: browser-based MCP clients on any
origin must be able to discover how to authenticate.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_auth.challenge import plain_error
from mcp_auth.config import Settings

MAX_HEADER_BYTES = 16 * 1024
MAX_JSON_DEPTH = 64
BODY = "mcp_auth.body"
"""Scope key of the checked body of a POST to the MCP path."""
_ALLOW_HEADERS = "authorization, content-type, accept, mcp-protocol-version, mcp-session-id, mcp-method, " \
    "mcp-name, last-event-id, x-api-key, traceparent"
_EXPOSE_HEADERS = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings, mcp_path: str) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.max_body = settings.max_body_bytes
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
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        cors = origin is not None and origin.rstrip("/").lower() in self.cors_origins
        send = self._decorating(send, origin if cors else None)
        refusal = self._refuse(scope, headers, origin, cors)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["path"] == self.mcp_path and scope["method"] == "POST":
            receive = await self._checked_body(scope, receive, send, headers)
            if receive is None:
                return
        await self.app(scope, receive, send)

    def _refuse(self, scope: Scope, headers: Headers, origin: str | None, cors: bool) -> Response | None:
        if scope["path"] == "/healthz":
            return None
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            return plain_error(431, "headers_too_large", f"Request headers exceed {MAX_HEADER_BYTES} bytes.")
        if (headers.get("host") or "").lower() not in self.allowed_hosts:
            return plain_error(
                421, "misdirected_request", "The Host header does not name this server (see MCP_AUTH_ALLOWED_HOSTS)."
            )
        public = scope["path"].startswith("/.well-known/") and scope["method"] in ("GET", "HEAD", "OPTIONS")
        if origin is not None and not cors and not public and origin.rstrip("/").lower() != self.own_origin:
            return plain_error(403, "forbidden_origin", "This Origin is not allowed (see MCP_AUTH_ALLOWED_ORIGINS).")
        if scope["method"] == "OPTIONS" and origin is not None:
            return Response(status_code=204, headers={
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
            })
        if scope["path"] == self.mcp_path and scope["method"] == "POST":
            content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return plain_error(415, "unsupported_media_type", "Send the JSON-RPC message as application/json.")
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                return plain_error(413, "payload_too_large", f"The body exceeds {self.max_body} bytes.")
        return None

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> Receive | None:
        """Read the body once (bounded), check its nesting depth, and replay it downstream."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await plain_error(413, "payload_too_large", f"The body exceeds {self.max_body} bytes.")(
                    scope, receive, send
                )
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if nested_deeper_than(body, MAX_JSON_DEPTH):
            error = {"jsonrpc": "2.0", "id": None,
                     "error": {"code": -32700, "message": f"Parse error: JSON nested deeper than {MAX_JSON_DEPTH}."}}
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


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """``json_depth(body) > limit``; a body with at most ``limit`` brackets cannot be, and is not scanned."""
    return body.count(b"{") + body.count(b"[") > limit and json_depth(body) > limit


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays/objects, ignoring brackets inside strings."""
    depth = deepest = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


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
