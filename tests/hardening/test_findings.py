"""Regression tests for what the hardening suites found. A test marked xfail names a fix still to make."""

from __future__ import annotations

import json
import time
import uuid

import httpx


def _request_line(output: str, user_agent: str) -> dict | None:
    for line in output.splitlines():
        if user_agent in line and line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "mcp_auth.request":
                return entry
    return None


# Found by the hardening suites: the first X-Forwarded-For entry, which the client chooses, was logged as its
# address (Google's front end appends the real one). Fixed by taking the entries the front end wrote.
def test_a_client_cannot_choose_the_address_its_requests_are_logged_and_audited_under(function_server):
    agent = f"xff-probe-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        function_server.url,
        content=b"{}",
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "User-Agent": agent,
            "X-Forwarded-For": "198.51.100.66, 203.0.113.9",
        },
    )
    assert response.status_code == 401
    deadline = time.monotonic() + 10
    while (entry := _request_line(function_server.output(), agent)) is None:
        assert time.monotonic() < deadline, "the request was not logged"
        time.sleep(0.1)
    assert entry["httpRequest"]["remoteIp"] != "198.51.100.66"


def test_a_browser_client_on_another_origin_can_read_the_public_resource_metadata(function_server):
    response = httpx.get(
        function_server.base + "/.well-known/oauth-protected-resource/mcp",
        timeout=10,
        headers={"Origin": "https://inspector.example"},
    )
    assert response.status_code == 200
    assert response.headers.get("access-control-allow-origin") == "*"
