"""The GitHub toolset's handlers in process: the user's credential, GitHub's answers turned into tool errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from mcp_auth.context import RequestContext, UserContext, request_context
from mcp_auth.credentials import CredentialResolver, CredentialVersions, PlatformClient
from mcp_auth.principal import Principal
from mcp_auth.store.handle import user_stores
from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from toolsets import github

# Called as the framework calls them: the handlers the toolset's tools hold (framework errors translated).
HANDLERS = {t.name: t.fn for t in github.TOOLSET.tools}
STORES = user_stores(project=TEST_PROJECT)


def serving(user: UserContext, resolver: CredentialResolver | None = None):
    """The request context the MCP endpoint sets for ``user``."""
    return request_context(RequestContext(user=user, stores=STORES, resolver=resolver))


@pytest.fixture
def as_user(fake_platform, fake_github, firestore_emulator, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)

    async def token() -> str:
        return fake_platform.service_token

    resolver = CredentialResolver(
        platform=PlatformClient(base_url=fake_platform.url, service_token=token, deadline=2, attempt_timeout=1),
        versions=CredentialVersions(project=TEST_PROJECT),
    )

    @contextmanager
    def acting_as(uid: str) -> Iterator[None]:
        user = UserContext(principal=Principal(uid, "jwt"), record=UserRecord(uid=uid), scopes=frozenset())
        with serving(user, resolver):
            yield

    return acting_as


def new_uid() -> str:
    return f"gh-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def connected(as_user, fake_platform, fake_github):
    uid = new_uid()
    token = fake_platform.connect(uid, "github")
    fake_github.add_user("octo", token, [f"r{i}" for i in range(5)])
    return token, lambda: as_user(uid)


async def test_list_sends_the_users_token_and_the_limit(connected, fake_github):
    token, acting = connected
    with acting():
        result = await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=2)
    assert [r.full_name for r in result.repositories] == ["octo/r0", "octo/r1"]
    method, path, headers = fake_github.requests[-1]
    assert (method, path) == ("GET", "/user/repos")
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["accept"] == "application/vnd.github+json"


async def test_search_asks_for_the_users_own_issues(connected, fake_github):
    with connected[1]():
        await HANDLERS["create_issue"](repository="octo/r1", title="Disk full", body="")
        await HANDLERS["create_issue"](repository="octo/r2", title="Other", body="")
        result = await HANDLERS["search_my_issues"](query="Disk", state="open", limit=10)
    assert [(i.title, i.repository) for i in result.issues] == [("Disk full", "octo/r1")]


@pytest.mark.parametrize(
    "status, body, message",
    [
        (500, {"message": "boom"}, "GitHub is having problems (HTTP 500)"),
        (403, {"message": "API rate limit exceeded"}, "GitHub refused the request (HTTP 403): API rate limit exceeded"),
        (422, "not an object", "GitHub refused the request (HTTP 422): no details given"),
        (200, {"not": "a list"}, "GitHub sent an unexpected answer"),
    ],
)
async def test_github_failures_become_tool_errors(connected, fake_github, status, body, message):
    fake_github.forced.append((status, body))
    with connected[1](), pytest.raises(ToolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=5)


async def test_a_rejected_token_asks_the_user_to_reconnect_and_is_not_reused(connected, fake_github, fake_platform):
    token, acting = connected
    fake_github.revoke(token)
    with acting(), pytest.raises(ToolError, match="reconnect GitHub"):
        await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=5)
    hits = sum(fake_platform.hits(u, p) for (u, p) in fake_platform.credentials)
    with acting(), pytest.raises(ToolError):
        await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=5)
    assert sum(fake_platform.hits(u, p) for (u, p) in fake_platform.credentials) == hits + 1


async def test_an_unreachable_github_is_a_tool_error(connected, monkeypatch):
    from mcp_auth.devtools.emulator import free_port

    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")
    with connected[1](), pytest.raises(ToolError, match="could not be reached"):
        await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=5)


async def test_without_a_platform_the_tool_says_so(monkeypatch):
    user = UserContext(principal=Principal("solo", "jwt"), record=UserRecord(uid="solo"), scopes=frozenset())
    with serving(user), pytest.raises(ToolError, match="not set up to reach GitHub"):
        await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=5)


async def test_an_unreadable_service_token_is_a_generic_tool_error(fake_platform, firestore_emulator):
    from mcp_auth.errors import SecretUnavailable

    async def broken() -> str:
        raise SecretUnavailable("Secret 'platform-token' in project 'p' does not exist.")

    resolver = CredentialResolver(
        platform=PlatformClient(base_url=fake_platform.url, service_token=broken),
        versions=CredentialVersions(project=TEST_PROJECT),
    )
    user = UserContext(principal=Principal("sam", "jwt"), record=UserRecord(uid="sam"), scopes=frozenset())
    with serving(user, resolver), pytest.raises(ToolError) as caught:
        await HANDLERS["list_my_repositories"](visibility="all", sort="updated", limit=5)
    assert str(caught.value) == (
        "Temporarily unavailable, retryable: Your GitHub credential cannot be fetched right now; try again later."
    )
