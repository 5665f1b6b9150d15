"""`mcp-auth users …` against the emulator: record changes, and one clear error line (exit 2) for bad input."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm


@pytest.fixture
async def warm_emulator(user_repo):
    await warm(user_repo)


@pytest.fixture
def users(cli, warm_emulator):
    """``mcp-auth users …`` in this process, against the emulator."""

    def run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        return cli("users", *args, env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT, **settings})

    return run


def _record(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_operator_changes_status_scopes_and_toolsets(users):
    uid = f"cli-{uuid.uuid4().hex[:8]}"
    assert _record(users("create", uid, "--toolsets", "basics", "--scopes", "mcp:tools"))["status"] == "active"
    assert _record(users("disable", uid))["status"] == "disabled"
    assert _record(users("enable", uid))["status"] == "active"
    assert sorted(_record(users("grant", uid, "notes:read,notes:write"))["scopes"]) == [
        "mcp:tools",
        "notes:read",
        "notes:write",
    ]
    assert sorted(_record(users("revoke", uid, "notes:write"))["scopes"]) == ["mcp:tools", "notes:read"]
    assert sorted(_record(users("toolsets", uid, "--add", "notes,profile"))["toolsets"]) == [
        "basics",
        "notes",
        "profile",
    ]
    assert sorted(_record(users("toolsets", uid, "--remove", "basics"))["toolsets"]) == ["notes", "profile"]
    assert _record(users("toolsets", uid, "--set", "notes"))["toolsets"] == ["notes"]
    assert _record(users("show", uid))["toolsets"] == ["notes"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("disable", "../../etc"), "user id"),
        (("grant", "a" * 300, "x"), "user id"),
        (("enable", "nobody-" + uuid.uuid4().hex), "create it first"),
        (("grant", "someone", 'bad"scope'), "not a valid scope"),
        (("grant", "someone", ""), "Name the scopes"),
        (("grant", "someone", ",".join(f"s{i}" for i in range(101))), "At most 100"),
        (("grant", "someone", "x" * 100_000), "not a valid scope"),
        (("toolsets", "someone", "--add", "notez"), "Unknown toolset(s) notez"),
        (("toolsets", "someone", "--add", "Notes!"), "not a valid toolset name"),
        (("toolsets", "someone", "--set", "notes", "--add", "basics"), "either --set or --add"),
        (("create", "someone", "--toolsets", "nope"), "Unknown toolset(s) nope"),
    ],
)
def test_hostile_or_malformed_input_is_one_clear_error_line_and_exit_status_2(users, args, needle):
    done = users(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-auth: error:") and needle in lines[0], done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("factory", "needle"),
    [
        ("nowhere_at_all:FACTORY", "cannot be imported"),
        ("factory:NOTHING", "not a ToolsetFactory"),
        ("factory", "module:attribute"),
        ("../etc:passwd", "module:attribute"),
    ],
)
def test_a_factory_that_cannot_be_loaded_is_one_clear_error_line(users, factory, needle):
    done = users("toolsets", "someone", "--add", "notes", MCP_AUTH_FACTORY=factory)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and needle in lines[0], done.stderr
