"""Credential invalidation across instances: after the webhook returns, no instance uses the old token."""

from __future__ import annotations

import secrets

import httpx

from mcp_auth.credentials.signature import SIGNATURE_HEADER
from tests.e2e.clients import mcp_client

WEBHOOK = "/api/webhooks/credential-updated"


def _tokens_used(github, since: int) -> set[str]:
    return {h["authorization"].removeprefix("Bearer ") for _, _, h in github.requests[since:]}


async def test_after_the_webhook_returns_no_instance_uses_the_old_credential(
    start_function, round_robin_proxy, credential_stack, make_user, mint, leak_watch
):
    proxy = round_robin_proxy()
    public = proxy.url + "/mcp"
    a = start_function(**credential_stack.env(MCP_AUTH_RESOURCE_URL=public))
    b = start_function(**credential_stack.env(MCP_AUTH_RESOURCE_URL=public))
    for fn in (a, b):
        leak_watch.watch_file(fn.log)
    proxy.route_to([a.base, b.base])
    alice = await make_user(toolsets=("github",))
    old = credential_stack.connect_github(alice.uid, "alice-gh", ["alpha"])
    jwt = leak_watch.secret(mint(alice.uid, audience=public))
    platform, github = credential_stack.platform, credential_stack.github

    async with mcp_client(public, jwt) as client:
        for _ in range(4):
            assert not (await client.call_tool("list_my_repositories", {})).is_error
    assert platform.hits(alice.uid, "github") == 2  # each instance fetched once and cached it
    assert _tokens_used(github, 0) == {old}

    # The platform rotates the token (the old one still works at GitHub, so a stale use would go unnoticed
    # by GitHub: only this test sees it), then calls the webhook, which lands on one instance.
    new = platform.connect(alice.uid, "github")
    github.add_user("alice-gh", new, ["alpha"])
    hits_before = dict(proxy.hits)
    response = credential_stack.webhook(proxy.url, alice.uid, "github")
    assert response.status_code == 200 and response.json() == {"status": "invalidated"}
    assert sum(proxy.hits.values()) == sum(hits_before.values()) + 1

    since = len(github.requests)
    async with mcp_client(public, jwt) as client:
        for _ in range(4):
            assert not (await client.call_tool("list_my_repositories", {})).is_error
    assert _tokens_used(github, since) == {new}
    assert platform.hits(alice.uid, "github") == 4  # both instances refetched
    assert proxy.hits[a.base] >= 5 and proxy.hits[b.base] >= 5


async def test_a_repeated_delivery_is_answered_but_changes_nothing(
    start_function, credential_stack, make_user, leak_watch
):
    fn = start_function(**credential_stack.env())
    leak_watch.watch_file(fn.log)
    body, headers = credential_stack.signed("frank", "github", event_id="evt-once")
    first = httpx.post(fn.base + WEBHOOK, content=body, headers=headers)
    second = httpx.post(fn.base + WEBHOOK, content=body, headers=headers)
    assert first.json() == {"status": "invalidated"}
    assert second.status_code == 200 and second.json() == {"status": "duplicate"}


async def test_forged_replayed_and_unsigned_calls_are_rejected_and_logged_without_secrets(
    start_function, credential_stack, leak_watch
):
    fn = start_function(**credential_stack.env())
    leak_watch.watch_file(fn.log)
    forged_key = leak_watch.secret(secrets.token_urlsafe(32)).encode()
    forged_body, forged = credential_stack.signed("grace", "github", key=forged_key)
    stale_body, stale = credential_stack.signed("grace", "github", timestamp=1_700_000_000)
    calls = {
        "invalid_signature": (forged_body, forged),
        "stale_timestamp": (stale_body, stale),
        "missing_signature": (stale_body, {"Content-Type": "application/json"}),
        "payload_too_large": (b"{" + b" " * 20_000 + b"}", forged),
        "malformed_signature": (forged_body, {**forged, SIGNATURE_HEADER: "v1=zz"}),
    }
    for code, (body, headers) in calls.items():
        response = httpx.post(fn.base + WEBHOOK, content=body, headers=headers)
        assert 400 <= response.status_code < 500, code
        assert response.json()["error"] == code
    log = fn.output()
    for code in set(calls) - {"payload_too_large"}:
        assert f"Rejected a credential webhook call from 127.0.0.1: {code}" in log
    # the edge caps every route's body before the webhook reads it: its refusal is the request line's outcome
    assert '"outcome": "payload_too_large"' in log
    for headers in (forged, stale):
        assert headers[SIGNATURE_HEADER] not in log and headers[SIGNATURE_HEADER][3:] not in log
    assert forged_body.decode() not in log


def test_a_missing_webhook_key_stops_the_start_naming_the_secret(start_function, credential_stack):
    import pytest

    missing = f"projects/{credential_stack.project}/secrets/no-such-webhook-key"
    with pytest.raises(RuntimeError, match="no-such-webhook-key"):
        start_function(**credential_stack.env(MCP_AUTH_WEBHOOK_SECRET=missing))
