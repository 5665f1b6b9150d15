"""`mcp-auth groups …` and the grants it explains in `mcp-auth users show`, against the emulator."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import pytest

from mcp_auth.oauth.groups import GroupGrants
from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm

ENV = {
    "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
    "PYTHONPATH": "functions",
    "MCP_AUTH_OAUTH_GROUP_GRANTS": json.dumps({"everyone": {"toolsets": ["basics"], "scopes": ["mcp:tools"]}}),
}


@pytest.fixture
async def warm_emulator(user_repo):
    await warm(user_repo)


@pytest.fixture
def run(cli, warm_emulator):
    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, env=ENV)

    return command


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _in_store(work):  # type: ignore[no-untyped-def]
    """Run ``work(grants, users)`` on a loop of its own, as a sign-in or refresh would."""
    from mcp_auth.store.firestore import close_clients, firestore_client
    from mcp_auth.store.users import UserRepository

    async def go():  # type: ignore[no-untyped-def]
        client = firestore_client(project=TEST_PROJECT)
        users = UserRepository(client)
        try:
            return await work(GroupGrants(configured={}, client=client, users=users), users)
        finally:
            await close_clients()

    return asyncio.run(go())


def test_a_mapped_group_grants_and_users_show_says_where_each_grant_came_from(run):
    group, uid = f"eng {uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex[:8]}"
    _ok(run("groups", "map", group, "--toolsets", "profile", "--scopes", "profile:write"))
    assert group in _ok(run("groups", "list"))
    listed = json.loads(_ok(run("groups", "list", "--format", "json")))
    assert listed["deployment"]["everyone"]["toolsets"] == ["basics"]
    assert listed["mcp-auth groups"][group] == {"toolsets": ["profile"], "scopes": ["profile:write"]}

    async def sign_in(grants, users):  # type: ignore[no-untyped-def]
        await users.create(UserRecord(uid=uid, toolsets=frozenset({"notes"})))
        return await grants.apply(uid, [group])  # what a sign-in does with the account's groups

    record = _in_store(sign_in)
    assert record is not None and record.toolsets == {"notes", "profile"} and "profile:write" in record.scopes

    _ok(run("users", "withhold", uid, "--scopes", "profile:write"))
    shown = json.loads(_ok(run("users", "show", uid)))
    assert shown["sources"]["toolsets"] == {"notes": ["user record"], "profile": [f"group {group} (mcp-auth groups)"]}
    assert "withheld" in shown["sources"]["scopes"]["profile:write"][0]
    assert _in_store(lambda grants, users: users.get(uid)).scopes == frozenset()  # withheld wins over the group

    _ok(run("groups", "unmap", group))
    record = _in_store(lambda grants, users: grants.reapply(uid))  # what the next refresh does
    assert record is not None and record.toolsets == {"notes"}
    assert group not in json.loads(_ok(run("groups", "list", "--format", "json")))["mcp-auth groups"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("groups", "map", "g"), "Name what the group grants"),
        (("groups", "map", "g", "--toolsets", "no-such-toolset"), "Unknown toolset"),
        (("groups", "map", "g", "--scopes", 'a"b'), "not a valid scope"),
        (("groups", "map", "x" * 300, "--scopes", "a"), "1-256 characters"),
        (("groups", "map", "a\tb", "--scopes", "a"), "control characters"),
        (("groups", "map", "g", "--scopes", ",".join(f"s{i}" for i in range(101))), "At most 100"),
        (("users", "withhold", "u"), "Name what to withhold"),
    ],
)
def test_malformed_hostile_and_oversized_arguments_are_one_clear_line(run, args, message):
    done = run(*args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
