"""Serving one request with one MCP server, statelessly (lib/mcp_auth/transport.py), in process: a 2026-07-28
answer is JSON until the tool says something on the way, then SSE; an idle stream carries keep-alive comments,
and the keep-alive setting is applied once per value; a handshake-era GET or DELETE is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import Context
from sse_starlette.sse import EventSourceResponse

from mcp_auth import Toolset, tool
from mcp_auth.servers import assemble
from mcp_auth.transport import _configure_streams, serve_mcp
from tests._fixtures.http import HANDSHAKE, MODERN, mcp_request, messages
from tests._fixtures.local_app import local_client, local_settings

LIMIT = 1 << 20
SETTINGS_DEFAULT = 15  # MCP_AUTH_SSE_KEEPALIVE's default, which is also the libraries' own


def echo(text: str) -> str:
    """Echo the text."""
    return text


async def count(ctx: Context, to: int) -> str:
    """Count, reporting progress on the way."""
    for n in range(1, to + 1):
        await ctx.report_progress(n, to)
    return f"counted to {to}"


GATE: dict[str, asyncio.Event] = {}


async def wait(ctx: Context) -> str:
    """Report once, then stay silent until the test opens the gate."""
    await ctx.report_progress(0, 1)
    await GATE["open"].wait()
    return "released"


STOPPED: list[str] = []


async def stall(ctx: Context) -> str:
    """Report once, then wait for ever, noting a cancellation."""
    await ctx.report_progress(0, 1)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        STOPPED.append("cancelled")
        raise
    return "never"


TOOLSET = Toolset("t", tools=[tool(echo), tool(count), tool(wait), tool(stall)])


def _serving(keepalive: float = SETTINGS_DEFAULT):
    """An ASGI app that serves each request with ``serve_mcp`` and one server of ``TOOLSET``, as the endpoint does
    after its gates."""
    server, _ = assemble([TOOLSET])

    async def app(scope, receive, send):
        await serve_mcp(server, scope, receive, send, max_body_bytes=LIMIT, keepalive_seconds=keepalive)

    return app


def _call(name: str, arguments: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return mcp_request("tools/call", {"name": name, "arguments": arguments, "_meta": meta}, protocol=MODERN)


@pytest.fixture
def keepalive_restored() -> Iterator[None]:
    """The tests below change the process-wide keep-alive interval: leave it at the default."""
    yield
    _configure_streams(SETTINGS_DEFAULT)


async def test_a_tool_that_emits_nothing_is_answered_with_json():
    async with local_client(_serving(), "http://local") as client:
        r = await client.post("/mcp", **_call("echo", {"text": "plain"}, progressToken="p"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["result"]["content"][0]["text"] == "plain"


async def test_a_tool_that_reports_progress_is_answered_with_sse_progress_first():
    async with local_client(_serving(), "http://local") as client:
        r = await client.post("/mcp", **_call("count", {"to": 3}, progressToken="p"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    *progress, final = messages(r)
    assert [(m["method"], m["params"]["progress"]) for m in progress] == [
        ("notifications/progress", n) for n in (1, 2, 3)
    ]
    assert final["result"]["content"][0]["text"] == "counted to 3"


async def test_without_a_progress_token_the_same_tool_is_answered_with_json():
    async with local_client(_serving(), "http://local") as client:
        r = await client.post("/mcp", **_call("count", {"to": 3}))
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["result"]["content"][0]["text"] == "counted to 3"


async def _post_streaming(app, request: dict[str, Any], on_chunk, hang_up: asyncio.Event | None = None) -> list[bytes]:
    """One POST straight through ASGI, each body chunk handed to ``on_chunk`` as it is sent (httpx's ASGI
    transport would hold the response until it ends); once ``hang_up`` is set the client is gone."""
    headers = [(k.lower().encode(), v.encode()) for k, v in {"Host": "local", **request["headers"]}.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("local", 80),
    }
    chunks: list[bytes] = []
    sent = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request["content"], "more_body": False}
        ends = [asyncio.ensure_future(e.wait()) for e in (finished, hang_up) if e is not None]
        try:
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for end in ends:
                end.cancel()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])
            on_chunk(message["body"])

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return chunks


async def test_an_idle_stream_carries_keep_alive_comments_until_the_tool_answers(keepalive_restored):
    GATE["open"] = asyncio.Event()

    def open_on_a_comment(chunk: bytes) -> None:
        if chunk.startswith(b":"):
            GATE["open"].set()  # release the tool only once a keep-alive has arrived

    async with asyncio.timeout(30):  # a stream that never comments would otherwise wait for ever
        chunks = await _post_streaming(
            _serving(keepalive=0.05), _call("wait", {}, progressToken="p"), open_on_a_comment
        )
    stream = b"".join(chunks).decode()
    assert any(line.startswith(":") for line in stream.splitlines())
    assert '"released"' in stream


@pytest.mark.parametrize("protocol", [HANDSHAKE, MODERN])
async def test_a_client_that_hangs_up_mid_call_has_its_tool_cancelled(protocol):
    STOPPED.clear()
    hang_up = asyncio.Event()
    request = mcp_request(
        "tools/call", {"name": "stall", "arguments": {}, "_meta": {"progressToken": "p"}}, protocol=protocol
    )
    async with asyncio.timeout(30):  # a tool left running would keep the request open for ever
        chunks = await _post_streaming(_serving(), request, lambda _chunk: hang_up.set(), hang_up=hang_up)
    assert b"notifications/progress" in b"".join(chunks)
    assert STOPPED == ["cancelled"]


def _intervals() -> tuple[float, float]:
    from mcp.server import _streamable_http_modern as modern

    return modern._SSE_PING_INTERVAL, EventSourceResponse.DEFAULT_PING_INTERVAL


async def test_the_keep_alive_setting_is_applied_once_per_value(keepalive_restored):
    async with local_client(_serving(keepalive=7), "http://local") as client:
        await client.post("/mcp", **_call("echo", {"text": "x"}))
        assert _intervals() == (7.0, 7)
        EventSourceResponse.DEFAULT_PING_INTERVAL = 123  # changed behind the framework's back ...
        await client.post("/mcp", **_call("echo", {"text": "x"}))
        assert _intervals() == (7.0, 123)  # ... and not set again for the same value
    async with local_client(_serving(keepalive=9), "http://local") as client:
        await client.post("/mcp", **_call("echo", {"text": "x"}))
    assert _intervals() == (9.0, 9)  # a new value is applied


@pytest.mark.parametrize("protocol", [MODERN, HANDSHAKE])
async def test_a_body_over_the_cap_is_refused_when_no_edge_read_it_first(protocol):
    server, _ = assemble([TOOLSET])

    async def app(scope, receive, send):
        await serve_mcp(server, scope, receive, send, max_body_bytes=64)

    request = mcp_request("tools/call", {"name": "echo", "arguments": {"text": "x" * 100}}, protocol=protocol)
    async with local_client(app, "http://local") as client:
        r = await client.post("/mcp", **request)
    assert r.status_code == 413


async def test_a_modern_request_runs_inside_the_servers_lifespan():
    from contextlib import asynccontextmanager

    from mcp.server.mcpserver import MCPServer

    entered: list[str] = []

    @asynccontextmanager
    async def lifespan(server):
        entered.append("in")
        yield {}
        entered.append("out")

    server = MCPServer("t", tools=[t for t in TOOLSET.tools], lifespan=lifespan)

    async def app(scope, receive, send):
        await serve_mcp(server, scope, receive, send, max_body_bytes=LIMIT)

    async with local_client(app, "http://local") as client:
        r = await client.post("/mcp", **_call("echo", {"text": "x"}))
    assert r.json()["result"]["content"][0]["text"] == "x"
    assert entered == ["in", "out"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_handshake_era_get_or_delete_on_the_mcp_path_is_405(method):
    from mcp.server.mcpserver import MCPServer

    from mcp_auth import wrap_server

    app = wrap_server(lambda record: MCPServer("t"), settings=local_settings())
    headers = {"Accept": "text/event-stream", "MCP-Protocol-Version": HANDSHAKE, "Mcp-Session-Id": "abc"}
    async with asyncio.timeout(30), local_client(app) as client:  # a GET stream would otherwise never end
        r = await client.request(method, "/mcp", headers=headers)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"] == "method_not_allowed"
