"""Requests to the MCP endpoint as a client sends them, for tests that speak HTTP themselves.

MODERN, HANDSHAKE       the protocol versions: 2026-07-28 (sessionless) and 2025-11-25 (handshake era)
authorization(token)    {"Authorization": "Bearer <token>"}
bearer(token)           the Credentials that header carries, for tests that call a provider directly
rpc(method, params)     a JSON-RPC request; on 2026-07-28 with the ``_meta`` a client sends
mcp_request(...)        httpx keyword arguments (headers, content) of one POST of such a request:
                        JSON in, JSON or SSE accepted, the protocol version and, on 2026-07-28, the
                        Mcp-Method and Mcp-Name headers; ``headers`` are applied last
post_mcp(url, ...)      that POST, synchronously: ``post_mcp(url, "tools/call", {...}, token=t)``;
                        from an async client: ``await client.post(url, **mcp_request(...))``
messages(response)      the JSON-RPC messages of an answer, JSON or SSE
sse_messages(lines)     the JSON-RPC messages of the ``data:`` lines of an event stream, as they arrive
challenge(response)     the parameters of its ``WWW-Authenticate: Bearer …`` challenge, unquoted
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from mcp_auth.auth.base import Credentials

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


def authorization(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bearer(token: str) -> Credentials:
    return Credentials(bearer=token)


def rpc(
    method: str = "tools/list",
    params: Mapping[str, Any] | None = None,
    *,
    protocol: str | None = HANDSHAKE,
    request_id: int | str = 1,
) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if protocol == MODERN:
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            **((params or {}).get("_meta") or {}),
        }
        params = {**(params or {}), "_meta": meta}
    if params is not None:
        body["params"] = dict(params)
    return body


def mcp_request(
    method: str = "tools/list",
    params: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    protocol: str | None = HANDSHAKE,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    content: bytes | None = None,
    request_id: int | str = 1,
) -> dict[str, Any]:
    """``body`` replaces the JSON-RPC request built from ``method`` and ``params``; ``content`` sends raw bytes."""
    sent = {"Content-Type": "application/json", "Accept": ACCEPT}
    if protocol is not None:
        sent["MCP-Protocol-Version"] = protocol
    if protocol == MODERN:
        sent["Mcp-Method"] = method
        name = (params or {}).get("uri" if method == "resources/read" else "name")
        if isinstance(name, str):
            sent["Mcp-Name"] = name
    if token is not None:
        sent |= authorization(token)
    sent |= dict(headers or {})
    if content is None:
        content = json.dumps(
            rpc(method, params, protocol=protocol, request_id=request_id) if body is None else body
        ).encode()
    return {"headers": sent, "content": content}


def post_mcp(
    url: str,
    method: str = "tools/list",
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float = 30,
    **options: Any,
) -> httpx.Response:
    return httpx.post(url, **mcp_request(method, params, **options), timeout=timeout)


def sse_messages(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data:") and line[5:].strip():
            yield json.loads(line[5:])


def messages(response: httpx.Response) -> list[dict[str, Any]]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return list(sse_messages(response.text.splitlines()))
    return [response.json()]


_PARAM = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)=("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


def challenge(answer: httpx.Response | str) -> dict[str, str]:
    """``answer``: a response, or the header's value."""
    header = answer if isinstance(answer, str) else answer.headers["www-authenticate"]
    assert header.startswith("Bearer "), header
    rest, params = header[len("Bearer ") :], {}
    while rest:
        match = _PARAM.match(rest)
        assert match is not None, f"not an auth-param list: {rest!r}"
        key, value = match.groups()
        params[key] = re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
        rest = rest[match.end() :]
    return params
