"""Revocation on every instance: a change made with ``mcp-auth`` on one side is met by the other instance's
next request, although both cache the user record and every verification for ten minutes.

Two instances serve one resource; each warms its caches with the user's credentials first. The command
runs (as an operator would, from anywhere), then the test waits until instance B's listener has applied
the event (``RunningFunction.heard``: its ``revocation applied`` log lines naming the user, counted; no
fixed sleep), and B's next request is refused, with no cache having expired.
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


async def _change(cli: Any, a: Any, b: Any, uid: str, *args: str) -> str:
    """Run ``mcp-auth`` with ``a``'s settings, then wait until ``b`` has heard of the change to ``uid``."""
    before = b.revocations_applied(uid)
    out = await asyncio.to_thread(_cli_ok, cli, a, *args)
    await b.heard(uid, more_than=before)
    return out


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

    await _change(cli, a, b, user.uid, "users", "disable", user.uid)
    refused = _call(b, proxy, token)
    assert refused.status_code == 403, refused.text
    assert _call(a, proxy, token).status_code == 403

    await _change(cli, a, b, user.uid, "users", "enable", user.uid)
    assert _call(b, proxy, token).status_code == 200


async def test_a_revoked_api_key_is_refused_by_the_other_instance_at_once(pair, make_user, cli):
    a, b, proxy = pair
    user = await make_user()
    created = await asyncio.to_thread(_cli_ok, cli, a, "keys", "create", "--user", user.uid, "--name", "laptop")
    key = json.loads(created.split("\n# ")[0])
    credential = {"X-API-Key": key["key"]}
    assert _call(a, proxy, credential).status_code == 200
    assert _call(b, proxy, credential).status_code == 200

    await _change(cli, a, b, user.uid, "keys", "revoke", key["id"])
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

    out = await _change(cli, a, b, user.uid, "users", "sign-out", user.uid)
    assert json.loads(out.split("\n# ")[0])["tokens_valid_after"]
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
    await _change(cli, a, b, user.uid, "users", "revoke", user.uid, "mcp:tools")
    refused = _call(b, proxy, token)
    assert refused.status_code == 403, refused.text
    assert "mcp:tools" in refused.headers["www-authenticate"]
