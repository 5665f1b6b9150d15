"""Revocation on every instance: a change made with ``mcp-auth`` on one side is met by the other instance's
next request, although both cache the user record and every verification for ten minutes.

Two instances serve one resource; each warms its caches with the user's credentials first. The command
runs (as an operator would, from anywhere), then the test waits until instance B's listener has applied
the event (its ``revocation applied`` log line naming the user: no fixed sleep), and B's next request
is refused, with no cache having expired.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests._fixtures.http import MODERN, mcp_request

SETTINGS = {
    "MCP_AUTH_PROVIDERS": "jwt,api_key",
    "MCP_AUTH_API_KEY_PEPPER": "p" * 48,
    "MCP_AUTH_USER_CACHE_TTL": "600",
    "MCP_AUTH_AUTH_CACHE_TTL": "600",
}


@pytest.fixture
def pair(start_function, round_robin_proxy):
    proxy = round_robin_proxy()
    resource = f"{proxy.url}/mcp"
    a, b = (start_function(MCP_AUTH_RESOURCE_URL=resource, **SETTINGS) for _ in range(2))
    proxy.route_to([a.base, b.base])
    return a, b, proxy


def _call(instance: Any, proxy: Any, credential: dict[str, str], tool: str = "echo") -> httpx.Response:
    """One tools/call straight to ``instance``, addressed to the shared resource (the proxy's host)."""
    request = mcp_request(
        "tools/call",
        {"name": tool, "arguments": {"text": "hi"} if tool == "echo" else {}},
        protocol=MODERN,
        headers={"Host": proxy.host, **credential},
    )
    return httpx.post(instance.base + "/mcp", timeout=30, **request)


async def _applied(instance: Any, uid: str, timeout: float = 30.0) -> None:
    """Wait until ``instance`` logged that it applied an event naming ``uid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in instance.output().splitlines():
            if '"revocation applied"' in line and uid in json.loads(line).get("uids", []):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"instance {instance.base} never applied a revocation for {uid}:\n{instance.output()[-3000:]}")


def _cli_ok(cli: Any, instance: Any, *args: str) -> str:
    done = cli(*args, env=instance.env, defaults=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _new_key(cli: Any, instance: Any, uid: str) -> str:
    created = await asyncio.to_thread(_cli_ok, cli, instance, "keys", "create", "--user", uid)
    return str(json.loads(created.split("\n# ")[0])["key"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_disable_on_one_side_refuses_the_next_request_on_the_other(pair, make_user, mint, cli):
    a, b, proxy = pair
    user = await make_user()
    token = _bearer(mint(user.uid, audience=f"{proxy.url}/mcp"))
    assert _call(a, proxy, token).status_code == 200
    assert _call(b, proxy, token).status_code == 200  # B now holds the record and the verification

    await asyncio.to_thread(_cli_ok, cli, a, "users", "disable", user.uid)
    await _applied(b, user.uid)
    refused = _call(b, proxy, token)
    assert refused.status_code == 403, refused.text
    assert _call(a, proxy, token).status_code == 403

    await asyncio.to_thread(_cli_ok, cli, a, "users", "enable", user.uid)
    assert _call(b, proxy, token).status_code in (200, 403)  # B may not have heard yet: no assertion on time
    await _applied(b, user.uid)
    await _wait_status(b, proxy, token, 200)


async def _wait_status(instance: Any, proxy: Any, credential: dict[str, str], status: int) -> None:
    """The enable event above is the second for this user: its log line may be B's first one again."""
    deadline = time.monotonic() + 30
    while (response := _call(instance, proxy, credential)).status_code != status:
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.1)


async def test_a_revoked_api_key_is_refused_by_the_other_instance_at_once(pair, make_user, cli):
    a, b, proxy = pair
    user = await make_user()
    created = await asyncio.to_thread(_cli_ok, cli, a, "keys", "create", "--user", user.uid, "--name", "laptop")
    key = json.loads(created.split("\n# ")[0])
    credential = {"X-API-Key": key["key"]}
    assert _call(a, proxy, credential).status_code == 200
    assert _call(b, proxy, credential).status_code == 200

    await asyncio.to_thread(_cli_ok, cli, a, "keys", "revoke", key["id"])
    await _applied(b, user.uid)
    refused = _call(b, proxy, credential)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error_description"]


async def test_sign_out_refuses_every_earlier_credential_and_accepts_new_ones(pair, make_user, mint, cli):
    a, b, proxy = pair
    user = await make_user()
    audience = f"{proxy.url}/mcp"
    token = _bearer(mint(user.uid, audience=audience))
    key = await _new_key(cli, a, user.uid)
    for instance in (a, b):
        assert _call(instance, proxy, token).status_code == 200
        assert _call(instance, proxy, {"X-API-Key": key}).status_code == 200

    out = await asyncio.to_thread(_cli_ok, cli, a, "users", "sign-out", user.uid)
    assert json.loads(out.split("\n# ")[0])["tokens_valid_after"]
    await _applied(b, user.uid)
    for credential in (token, {"X-API-Key": key}):
        refused = _call(b, proxy, credential)
        assert refused.status_code == 401, refused.text
        assert "signed out" in refused.json()["error_description"]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]

    later = _bearer(mint(user.uid, audience=audience, iat=int(time.time()) + 2))  # issued after the sign-out
    assert _call(b, proxy, later).status_code == 200
    fresh = await _new_key(cli, a, user.uid)
    assert _call(b, proxy, {"X-API-Key": fresh}).status_code == 200


async def test_a_withdrawn_scope_holds_on_the_other_instance_at_once(pair, make_user, mint, cli):
    a, b, proxy = pair
    user = await make_user(scopes=("mcp:tools", "notes:read"))
    token = _bearer(mint(user.uid, audience=f"{proxy.url}/mcp", scopes="mcp:tools notes:read"))
    assert _call(b, proxy, token).status_code == 200
    await asyncio.to_thread(_cli_ok, cli, a, "users", "revoke", user.uid, "mcp:tools")
    await _applied(b, user.uid)
    refused = _call(b, proxy, token)
    assert refused.status_code == 403, refused.text
    assert "mcp:tools" in refused.headers["www-authenticate"]
