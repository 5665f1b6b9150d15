"""The platform client against a loopback platform: answers, retries, deadline, headers."""

from __future__ import annotations

import pytest

from mcp_auth.credentials import Credential
from mcp_auth.credentials.platform import NotConnected
from mcp_auth.errors import CredentialUnavailable


async def test_returns_the_users_credential_with_its_expiry(fake_platform, platform_client):
    token = fake_platform.connect("alice", "github", expires_at="2030-01-01T00:00:00Z", scopes=["repo"])
    got = await platform_client().fetch("alice", "github")
    assert isinstance(got, Credential)
    assert got.access_token == token and got.scopes == ("repo",)
    assert got.expires_at == 1893456000.0
    assert token not in repr(got)


async def test_404_means_not_connected_and_carries_the_connect_url(fake_platform, platform_client):
    got = await platform_client().fetch("bob", "github")
    assert got == NotConnected(connect_url=f"{fake_platform.url}/connect/github")


async def test_sends_the_service_token_and_the_user_token_only_when_asked(fake_platform, platform_client):
    fake_platform.connect("alice", "github")
    client = platform_client()
    await client.fetch("alice", "github")
    await client.fetch("alice", "github", user_token="user-jwt")
    first, second = fake_platform.requests
    assert first["authorization"] == f"Bearer {fake_platform.service_token}"
    assert "x-user-authorization" not in first
    assert second["x-user-authorization"] == "Bearer user-jwt"


async def test_server_errors_are_retried_until_an_answer(fake_platform, platform_client):
    fake_platform.connect("alice", "github")
    fake_platform.fail_next(503, 500, 429)
    got = await platform_client(max_attempts=5).fetch("alice", "github")
    assert isinstance(got, Credential)
    assert fake_platform.hits("alice", "github") == 4


async def test_persistent_failures_give_up_with_a_retryable_error(fake_platform, platform_client):
    fake_platform.fail_next(*[502] * 10)
    with pytest.raises(CredentialUnavailable, match="try again"):
        await platform_client(max_attempts=3).fetch("alice", "github")
    assert fake_platform.hits("alice", "github") == 3


async def test_a_hanging_platform_is_bounded_by_the_deadline(fake_platform, platform_client):
    fake_platform.fail_next("hang", "hang", "hang", "hang")
    with pytest.raises(CredentialUnavailable, match="timed out"):
        await platform_client(deadline=1.0, attempt_timeout=0.3, max_attempts=10).fetch("alice", "github")
    assert 1 <= fake_platform.hits("alice", "github") <= 10


async def test_a_refused_service_token_is_not_retried(fake_platform, platform_client):
    async def wrong() -> str:
        return "not-the-token"

    with pytest.raises(CredentialUnavailable, match="administrator"):
        await platform_client(service_token=wrong).fetch("alice", "github")
    assert fake_platform.hits("alice", "github") == 1


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "bearer"},
        {"access_token": ""},
        {"access_token": 5},
        {"access_token": "t", "expires_at": "tomorrow"},
        {"access_token": "t", "expires_at": True},
        {"access_token": "t", "scopes": "repo"},
    ],
)
async def test_a_malformed_credential_is_refused(fake_platform, platform_client, body):
    fake_platform.credentials[("alice", "github")] = body
    with pytest.raises(CredentialUnavailable, match="unusable"):
        await platform_client().fetch("alice", "github")
