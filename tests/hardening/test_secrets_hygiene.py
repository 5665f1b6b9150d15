"""No token, key or secret value reaches any captured output of the test session.

Every token and key the hardening suites create is registered with the session's ``leak_watch``
(``tests/_fixtures/platform.py``; the credential tests register theirs there too). This module
first sends credentials to a DEBUG-logging function in the places a careless server would echo
them (headers it logs, a refused request's headers, tool arguments, the query string, a
duplicated header), then scans every log file under this session's temporary directory
(function processes, the Firestore and Secret Manager emulators, proxies) and every log record
of this process for every registered value.

It runs after the other hardening suites in a normal run (files run in name order), so it scans
their output too; run alone, it still scans its own scenario.
"""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

import httpx
import pytest

from mcp_auth.store.users import UserRecord


def _session_logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return sorted(p for p in tmp_path_factory.getbasetemp().rglob("*.log") if p.is_file())


async def test_credentials_sent_anywhere_in_a_request_never_reach_a_log(
    start_function, seed_user, watched_mint, leak_watch, function_env, tmp_path_factory
):
    leak_watch.secret(function_env["MCP_AUTH_JWT_HS256_KEY"])
    fn = start_function(MCP_AUTH_LOG_LEVEL="DEBUG")
    uid = f"hygiene-{uuid.uuid4().hex[:10]}"
    await seed_user(UserRecord(uid=uid, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"})))
    good, expired, foreign = (
        watched_mint(uid, audience=fn.url),
        watched_mint(uid, audience=fn.url, ttl=-60),
        watched_mint(uid, audience="https://elsewhere.test/mcp"),
    )
    api_key = leak_watch.secret(f"mak_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}")
    opaque = leak_watch.secret(secrets.token_urlsafe(32))
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "echo",
            "arguments": {"text": good},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    base = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
    }
    attempts = [
        ({"Authorization": f"Bearer {good}", "Mcp-Name": "echo"}, call, ""),
        ({"Authorization": f"Bearer {expired}", "Mcp-Name": "echo"}, call, ""),
        ({"Authorization": f"Bearer {foreign}", "Mcp-Name": "echo"}, call, ""),
        ({"Authorization": f"Bearer {opaque}", "Mcp-Name": "echo"}, call, ""),
        ({"Authorization": f"Basic {opaque}", "Mcp-Name": "echo"}, call, ""),
        ({"X-API-Key": api_key, "Mcp-Name": "echo"}, call, ""),
        ({"Authorization": f"Bearer {good}", "Mcp-Name": good}, call, ""),  # a token where a tool name goes
        ({"Authorization": f"Bearer {good}", "Mcp-Name": "echo", "User-Agent": f"agent {good}"}, call, ""),
        ({"Mcp-Name": "echo"}, call, f"?access_token={opaque}"),
        ({"Authorization": f"Bearer {good}", "Mcp-Name": "nope"}, {**call, "params": {"name": good}}, ""),
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        for headers, body, query in attempts:
            response = await http.post(fn.url + query, content=json.dumps(body), headers={**base, **headers})
            assert response.status_code < 500
        duplicated = [
            ("Authorization", f"Bearer {good}"),
            ("Authorization", f"Bearer {opaque}"),
            *base.items(),
            ("Mcp-Name", "echo"),
        ]
        assert (await http.post(fn.url, content=json.dumps(call), headers=duplicated)).status_code == 401
        assert (await http.get(fn.base + "/readyz", headers={"Authorization": f"Bearer {good}"})).status_code == 200

    logs = _session_logs(tmp_path_factory)
    for path in logs:
        leak_watch.watch_file(path)
    assert fn.log in logs and "DEBUG" in fn.output()
    registered = len(leak_watch.values)
    assert registered >= 6
    assert leak_watch.leaks() == []
