"""What the function writes to stdout: Cloud Logging JSON, one line per request, audit records, no secrets."""

from __future__ import annotations

import json
import time

import httpx

from tests._fixtures.http import post_mcp
from tests.e2e.clients import mcp_client

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _lines(server) -> list[dict]:
    out = []
    for line in server.output().splitlines():
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            out.append(parsed)
    return out


async def test_requests_and_decisions_are_logged_structured_and_without_secrets(start_function, make_user, mint):
    server = start_function()
    user = await make_user()
    token = mint(user.uid, audience=server.url)
    async with mcp_client(server.url, token, mode="legacy") as client:
        await client.call_tool("echo", {"text": "hello"})
    bad = mint(user.uid, audience="https://elsewhere.example/mcp")
    r = post_mcp(server.url, token=bad, headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    assert r.status_code == 401
    time.sleep(0.5)  # let the subprocess flush its last lines

    lines = _lines(server)
    raw = server.output()
    assert token not in raw and bad not in raw and server.env["MCP_AUTH_JWT_HS256_KEY"] not in raw

    requests = [entry for entry in lines if entry.get("logger") == "mcp_auth.request"]
    assert requests, raw[-2000:]
    for entry in requests:
        assert entry["severity"] in ("INFO", "WARNING", "ERROR")
        assert {"requestMethod", "requestUrl", "status", "latency", "remoteIp"} <= set(entry["httpRequest"])
        assert entry["httpRequest"]["latency"].endswith("s")
    # one line per request (start-up lines aside), and on the MCP route it is the audit record
    serving = lines[lines.index(requests[0]) :]
    per_request = [e for e in serving if e.get("logger", "").startswith("mcp_auth")]
    # the revocation listener's lines are the instance's, not a request's (store/revocations.py)
    assert len([e for e in per_request if e["logger"] != "mcp_auth.revocations"]) == len(requests)
    calls = [e for e in requests if e.get("mcp", {}).get("tool") == "echo"]
    assert len(calls) == 1
    call = calls[0]
    assert call["audit"] is True and call["user"] == user.uid and call["outcome"] == "ok"
    assert call["auth"] == {"decision": "allowed", "method": "jwt"}
    assert call["mcp"]["method"] == "tools/call" and call["mcp"]["latency_ms"] >= 0
    denied = [e for e in requests if e["httpRequest"]["status"] == 401]
    assert denied[-1]["audit"] is True
    assert denied[-1]["auth"]["decision"] == "denied" and denied[-1]["auth"]["reason"] == "wrong_audience"
    assert denied[-1]["logging.googleapis.com/trace"].endswith(f"/traces/{TRACE}")
    assert denied[-1]["logging.googleapis.com/spanId"] == "00f067aa0ba902b7"
    assert denied[-1]["logging.googleapis.com/trace_sampled"] is True
    assert not any("logging.googleapis.com/trace" in e for e in lines[: lines.index(requests[0])])  # start-up lines


async def test_readiness_names_no_dependency_in_the_body(function_server, start_function):
    ready = httpx.get(function_server.base + "/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}

    broken = start_function(FIRESTORE_EMULATOR_HOST="127.0.0.1:9")  # nothing listens there
    r = httpx.get(broken.base + "/readyz", timeout=30)
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable"}
    assert r.headers["retry-after"]
    time.sleep(0.3)
    assert any("firestore" in e.get("failing", []) for e in _lines(broken))
