"""Fault injection on the other dependencies: Secret Manager down, the platform credential API slow,
failing or answering garbage, the JWKS endpoint rotating keys and failing.

Invariants: a dependency failure is never a 500 and never a hang; it reaches the client as a 503
with ``Retry-After`` or as a tool error that says to retry, never as "your token is invalid" when
the token is fine; and service comes back by itself when the dependency does.
"""

from __future__ import annotations

import os
import time
import uuid

import httpx
import jwt
import pytest

from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.function_server import ISSUER
from tests._fixtures.http import MODERN, post_mcp
from tests._fixtures.jwks import make_signing_key
from tests._fixtures.secret_manager import SecretManagerAdmin
from tests.e2e.clients import mcp_client
from tests.hardening.logscan import server_errors

# Timeouts here assume the machine is not shared with other tests: run apart from the parallel phase.
pytestmark = pytest.mark.serial


def _call(url: str, token: str) -> httpx.Response:
    return post_mcp(url, "tools/call", {"name": "whoami", "arguments": {}}, token=token, protocol=MODERN)


def _retryable(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.headers.get("retry-after", "").isdigit()


async def _user(seed_user, toolsets: tuple[str, ...] = ("basics",)) -> str:
    uid = f"faults-{uuid.uuid4().hex[:12]}"
    await seed_user(UserRecord(uid=uid, toolsets=frozenset(toolsets), scopes=frozenset({"mcp:tools"})))
    return uid


def _until(predicate, *, within: float = 30.0, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


async def test_secret_manager_down_keeps_serving_valid_tokens_reports_unready_and_recovers(
    start_function, drongo_endpoint, secret_manager_proxy, seed_user, leak_watch
):
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    secret, key = f"hard-hs-{uuid.uuid4().hex[:8]}", leak_watch.secret(os.urandom(32).hex()).encode()
    admin.create_secret(secret, key)
    admin.close()
    fn = start_function(
        MCP_AUTH_JWT_HS256_KEY=None,
        MCP_AUTH_JWT_HS_SECRET=secret,
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=secret_manager_proxy.endpoint,
        MCP_AUTH_SECRET_REFRESH_SECONDS="1",
        MCP_AUTH_AUTH_CACHE_TTL="1",
    )
    uid = await _user(seed_user)

    def token() -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": fn.url, "sub": uid, "iat": now, "exp": now + 300, "scope": "mcp:tools"}
        return leak_watch.secret(jwt.encode(claims, key, algorithm="HS256"))

    assert _call(fn.url, token()).status_code == 200
    secret_manager_proxy.reachable = False
    time.sleep(2.5)  # past the refresh interval and the verification cache: keys must be refetched now
    answers = [_call(fn.url, token()) for _ in range(5)]
    assert all(a.status_code == 200 or _retryable(a) for a in answers), [(a.status_code, a.text) for a in answers]
    ready = httpx.get(fn.base + "/readyz", timeout=30)
    assert _retryable(ready) and "secret" not in ready.text.lower()  # the failing dependency is not revealed
    secret_manager_proxy.reachable = True
    _until(lambda: httpx.get(fn.base + "/readyz", timeout=30).status_code == 200, what="never ready again")
    assert _call(fn.url, token()).status_code == 200
    assert server_errors(fn.output()) == []


async def test_jwks_rotation_and_outage_never_fail_valid_tokens_with_a_server_error(
    start_function, issuer_server, rsa_signing_key, seed_user, leak_watch
):
    issuer_server.jwks = {"keys": [rsa_signing_key.public_jwk]}
    fn = start_function(
        MCP_AUTH_JWT_HS256_KEY=None,
        MCP_AUTH_JWT_JWKS_URL=issuer_server.jwks_url,
        MCP_AUTH_JWT_JWKS_REFRESH_COOLDOWN="1",
        MCP_AUTH_AUTH_CACHE_TTL="1",
    )
    uid = await _user(seed_user)

    def signed(key) -> str:
        now = int(time.time())
        return leak_watch.secret(
            key.sign({"iss": ISSUER, "aud": fn.url, "sub": uid, "iat": now, "exp": now + 300, "scope": "mcp:tools"})
        )

    assert _call(fn.url, signed(rsa_signing_key)).status_code == 200
    rotated = make_signing_key("rsa", f"kid-{uuid.uuid4().hex[:6]}")
    issuer_server.jwks = {"keys": [rsa_signing_key.public_jwk, rotated.public_jwk]}
    time.sleep(1.2)
    assert _call(fn.url, signed(rotated)).status_code == 200  # an unknown kid refetches the rotated set

    outcomes = {}
    for mode in ("error", "garbage", "slow"):
        issuer_server.mode = mode
        time.sleep(1.2)  # past the cooldown: the next unknown kid triggers a fetch that fails
        known = _call(fn.url, signed(rsa_signing_key))
        assert known.status_code == 200, (mode, known.status_code, known.text)  # last good keys are kept
        newer = make_signing_key("rsa", f"kid-{uuid.uuid4().hex[:6]}")
        unknown = _call(fn.url, signed(newer))
        outcomes[mode] = unknown.status_code
        assert unknown.status_code in (401, 503), (mode, unknown.status_code, unknown.text)
        if unknown.status_code == 503:
            assert _retryable(unknown), unknown.headers
        if mode == "slow":
            issuer_server.released.set()
    print("\nunknown kid while the issuer fails:", outcomes)
    issuer_server.mode = "ok"
    latest = make_signing_key("rsa", f"kid-{uuid.uuid4().hex[:6]}")
    issuer_server.jwks = {"keys": [rsa_signing_key.public_jwk, latest.public_jwk]}
    _until(lambda: _call(fn.url, signed(latest)).status_code == 200, what="the rotated key was never accepted")
    assert server_errors(fn.output()) == []


async def test_platform_slow_failing_or_garbage_gives_a_retryable_tool_error_then_recovers(
    start_function, credential_stack, issuer_server, seed_user, watched_mint
):
    fn = start_function(**credential_stack.env(MCP_AUTH_TOOL_TIMEOUT="20"))
    uid = await _user(seed_user, toolsets=("github",))
    credential_stack.connect_github(uid, f"gh-{uid}", ["alpha"])
    platform = credential_stack.platform
    token = watched_mint(uid, audience=fn.url)
    async with mcp_client(fn.url, token) as client:
        assert not (await client.call_tool("list_my_repositories", {})).is_error
        failures = {}
        for answers in ((503, 503, 503, 503, 503, 503), (500, 502, 500, 502, 500, 502), ("hang", "hang", "hang")):
            credential_stack.webhook(fn.base, uid, "github")  # drop the cached credential: the next call asks
            platform.fail_next(*answers)
            result = await client.call_tool("list_my_repositories", {})
            text = " ".join(getattr(c, "text", "") for c in result.content)
            failures[str(answers[0])] = text[:120]
            assert result.is_error, (answers, text)
            assert "try" in text.lower() or "retry" in text.lower() or "again" in text.lower(), text
            _until_async = time.monotonic() + 30  # leftover failures are used up by the next calls
            while (await client.call_tool("list_my_repositories", {})).is_error:
                assert time.monotonic() < _until_async, "the credential never came back"
        print("\nplatform failures as the user sees them:", failures)
        assert not (await client.call_tool("list_my_repositories", {})).is_error  # recovered by itself

    issuer_server.mode = "garbage"  # 200 with HTML where JSON is expected
    garbage = start_function(**credential_stack.env(MCP_AUTH_PLATFORM_URL=issuer_server.base_url))
    async with mcp_client(garbage.url, watched_mint(uid, audience=garbage.url)) as client:
        result = await client.call_tool("list_my_repositories", {})
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert result.is_error and "Traceback" not in text, text
    for running in (fn, garbage):
        assert server_errors(running.output()) == []
