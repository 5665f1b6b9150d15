"""Every line logged while a request is served carries the request's trace, whoever logs it, in the keys
Cloud Logging groups by; a raised error's line is one Error Reporting ingests, secrets still masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_auth import wrap_server
from mcp_auth.logs import ERROR_EVENT, CloudLoggingFormatter
from mcp_auth.observe import trace_fields_of
from mcp_auth.store.users import UserDirectory, UserRecord
from tests._fixtures.http import mcp_request, messages
from tests._fixtures.local_app import local_client, local_settings, local_token

PROJECT = "demo-logs"
TRACE_ID, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACE = f"projects/{PROJECT}/traces/{TRACE_ID}"
TRACE_KEYS = ("logging.googleapis.com/trace", "logging.googleapis.com/spanId", "logging.googleapis.com/trace_sampled")
SERVICE = {"K_SERVICE": "team-mcp", "K_REVISION": "team-mcp-00042-xyz"}
team = logging.getLogger("team.tools")


class _Users:
    async def get(self, uid: str) -> UserRecord:
        return UserRecord(uid=uid, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"}), version="v1")


def _factory(record: Any) -> MCPServer:
    server = MCPServer("traced")

    @server.tool()
    def note(text: str) -> str:
        team.info("noting %d characters", len(text))
        return text

    @server.tool()
    def fail(token: str) -> str:
        try:
            raise RuntimeError(f"upstream refused Bearer {token}")
        except RuntimeError:
            team.exception("the upstream call failed")
        return "handled"

    return server


async def _boom(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("the route broke")


@pytest.fixture
def app() -> Any:
    settings = local_settings(
        GOOGLE_CLOUD_PROJECT=PROJECT,
        MCP_AUTH_FIRST_LOGIN="reject",
        MCP_AUTH_RATE_LIMIT_IP="off",
        MCP_AUTH_RATE_LIMIT_USER="off",
        MCP_AUTH_RATE_LIMIT_TOOL="off",
    )
    return wrap_server(_factory, settings=settings, users=UserDirectory(_Users()), routes={"/boom": _boom})  # type: ignore[arg-type]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The JSON lines every logger writes, formatted as on Cloud Run (service and revision set)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(CloudLoggingFormatter(env=SERVICE))
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(saved)


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _traceparent(flags: str = "01") -> dict[str, str]:
    return {"traceparent": f"00-{TRACE_ID}-{SPAN}-{flags}"}


async def test_every_line_of_a_request_carries_its_trace_and_a_line_outside_none(app, captured):
    async with local_client(app) as client:
        r = await client.post(
            "/mcp",
            **mcp_request(
                "tools/call",
                {"name": "note", "arguments": {"text": "hi"}},
                token=local_token("u1"),
                headers=_traceparent(),
            ),
        )
    assert r.status_code == 200 and not messages(r)[0]["result"].get("isError")
    logging.getLogger("mcp_auth").warning("between requests")

    lines = _lines(captured)
    inside, outside = lines[:-1], lines[-1]
    assert {line["logger"] for line in inside} >= {"team.tools", "mcp_auth.request"}  # team code and the framework
    for line in inside:
        assert [line.get(key) for key in TRACE_KEYS] == [TRACE, SPAN, True], line
    assert outside["message"] == "between requests"
    assert not set(TRACE_KEYS) & set(outside)


async def test_the_callers_sampling_decision_and_a_cloud_trace_header_are_kept(app, captured):
    async with local_client(app) as client:
        await client.get("/boom", headers=_traceparent("00"))
        await client.get("/boom", headers={"X-Cloud-Trace-Context": f"{TRACE_ID}/1234567890123;o=1"})
        await client.get("/boom")
    lines = [line for line in _lines(captured) if line["logger"] == "mcp_auth.request"]
    assert [[line.get(key) for key in TRACE_KEYS] for line in lines] == [
        [TRACE, SPAN, False],
        [TRACE, format(1234567890123, "016x"), True],
        [None, None, None],  # no trace header: no trace keys
    ]


async def test_a_raised_error_is_a_line_error_reporting_ingests_with_the_trace(app, captured):
    async with local_client(app) as client:
        r = await client.get("/boom", headers=_traceparent())
    assert r.status_code == 500
    [line] = [line for line in _lines(captured) if line["message"].startswith("Unhandled error")]
    assert line["severity"] == "ERROR" and "exc_info" not in line
    assert line["@type"] == ERROR_EVENT
    assert line["serviceContext"] == {"service": "team-mcp", "version": "team-mcp-00042-xyz"}
    stack = line["stack_trace"]
    assert stack.startswith("Traceback (most recent call last):\n") and stack.endswith("ValueError: the route broke")
    assert [line.get(key) for key in TRACE_KEYS] == [TRACE, SPAN, True]


async def test_a_token_in_a_team_tools_traceback_is_redacted(app, captured):
    secret = local_token("someone-else")
    async with local_client(app) as client:
        await client.post(
            "/mcp",
            **mcp_request(
                "tools/call",
                {"name": "fail", "arguments": {"token": secret}},
                token=local_token("u1"),
                headers=_traceparent(),
            ),
        )
    raw = captured.getvalue()
    assert secret not in raw and secret.split(".")[1] not in raw
    [line] = [line for line in _lines(captured) if line["logger"] == "team.tools"]
    assert line["stack_trace"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: upstream refused Bearer [REDACTED]" in line["stack_trace"]
    assert line["@type"] == ERROR_EVENT and line["logging.googleapis.com/trace"] == TRACE


def test_a_warning_with_an_exception_has_the_traceback_but_is_not_an_error_event():
    try:
        raise KeyError("x")
    except KeyError:
        record = logging.getLogger("t").makeRecord("t", logging.WARNING, __file__, 1, "retrying", (), _exc_info())
    line = json.loads(CloudLoggingFormatter(env={}).format(record))
    assert line["stack_trace"].startswith("Traceback (most recent call last):") and "@type" not in line
    assert "serviceContext" not in line and "exc_info" not in line


def test_trace_headers_that_do_not_parse_give_no_trace():
    for headers in (
        {"traceparent": "00-" + "0" * 32 + f"-{SPAN}-01"},
        {"traceparent": "not a traceparent"},
        {"x-cloud-trace-context": "xyz/1;o=1"},
    ):
        assert trace_fields_of(headers, PROJECT) == {}
    assert "logging.googleapis.com/spanId" not in trace_fields_of({"x-cloud-trace-context": TRACE_ID}, PROJECT)


def _exc_info() -> Any:
    import sys

    return sys.exc_info()
