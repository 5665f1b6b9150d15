"""No secret, token or API key reaches a log line: of the function processes, or of this test process.

Every secret and token the credential tests create is registered with ``leak_watch``
(service tokens, webhook keys, webhook signatures, GitHub tokens, user JWTs). This
module runs a full scenario with DEBUG logging everywhere, then scans the complete
output of every function process the session started for those tests and every log
record of this process (message, arguments and extra fields) for each value.
"""

from __future__ import annotations

import logging
import secrets
import uuid

import httpx
import pytest

from mcp_auth.credentials import CredentialResolver, CredentialVersions, PlatformClient
from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.platform import LeakWatch
from tests.e2e.clients import mcp_client


def test_the_leak_watch_finds_a_planted_secret(tmp_path):
    watch = LeakWatch()
    watch.secret("planted-" + secrets.token_hex(8))
    value = next(iter(watch.values))
    watch.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (value,), None))
    log = tmp_path / "fn.log"
    log.write_text(f"... {value} ...")
    watch.watch_file(log)
    assert len(watch.leaks()) == 2


@pytest.fixture
def debug_logging():
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.setLevel(saved)


async def test_a_full_credential_scenario_logs_no_secret(
    start_function, credential_stack, user_repo, mint, leak_watch, function_env, debug_logging
):
    async def make_user(*, toolsets: tuple[str, ...]) -> UserRecord:
        uid = f"hygiene-{uuid.uuid4().hex[:12]}"
        record = UserRecord(uid=uid, toolsets=frozenset(toolsets), scopes=frozenset({"mcp:tools"}))
        return await user_repo.create(record)

    leak_watch.secret(function_env["MCP_AUTH_JWT_HS256_KEY"])
    platform, github = credential_stack.platform, credential_stack.github
    fn = start_function(**credential_stack.env(MCP_AUTH_LOG_LEVEL="DEBUG", MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN="true"))
    leak_watch.watch_file(fn.log)
    alice, bob, carol = (
        await make_user(toolsets=("github",)),
        await make_user(toolsets=("github",)),
        await make_user(toolsets=("github",)),
    )
    alice_token = credential_stack.connect_github(alice.uid, "alice-gh", ["alpha"])
    credential_stack.connect_github(bob.uid, "bob-gh", ["bravo"])

    for user in (alice, bob, carol):
        jwt = leak_watch.secret(mint(user.uid, audience=fn.url))
        async with mcp_client(fn.url, jwt) as client:
            await client.call_tool("list_my_repositories", {})
            await client.call_tool("create_issue", {"repository": "alice-gh/alpha", "title": "t"})
            await client.call_tool("search_my_issues", {"query": "t"})
    github.revoke(alice_token)  # GitHub rejects it: the 401 path
    platform.fail_next(503, 500)  # the retry path
    async with mcp_client(fn.url, leak_watch.secret(mint(alice.uid, audience=fn.url))) as client:
        await client.call_tool("list_my_repositories", {})
        credential_stack.webhook(fn.base, alice.uid, "github")
        await client.call_tool("list_my_repositories", {})
    forged_key = leak_watch.secret(secrets.token_urlsafe(32)).encode()
    credential_stack.webhook(fn.base, alice.uid, "github", key=forged_key)
    credential_stack.webhook(fn.base, alice.uid, "github", timestamp=1_700_000_000)
    httpx.post(fn.base + "/mcp", headers={"Authorization": "Bearer " + leak_watch.secret(secrets.token_urlsafe(24))})

    # In this process too: the resolver and its failures, with DEBUG logging on.
    async def wrong() -> str:
        return leak_watch.secret("wrong-" + secrets.token_urlsafe(16))

    async def right() -> str:
        return platform.service_token

    versions = CredentialVersions(project=TEST_PROJECT)
    for source in (right, wrong):
        resolver = CredentialResolver(
            platform=PlatformClient(base_url=platform.url, service_token=source, deadline=2, attempt_timeout=1),
            versions=versions,
        )
        platform.fail_next(502)
        for user in (alice, bob, carol):
            try:
                await resolver.resolve(user.uid, "github", user_token=leak_watch.secret(secrets.token_urlsafe(20)))
            except Exception as exc:
                logging.getLogger("tests.hygiene").warning("resolve failed: %s %r", exc, exc)
            else:
                logging.getLogger("tests.hygiene").debug("resolved %r", await resolver.resolve(user.uid, "github"))

    output = fn.output()
    assert "invalid_signature" in output and "stale_timestamp" in output  # the scan covers real log output
    assert '"severity": "DEBUG"' in output or "DEBUG" in output
    assert any("resolve failed" in line or "resolved" in line for line in leak_watch.lines)  # the scenario was captured
    assert len(leak_watch.values) > 10
    assert leak_watch.leaks() == []
