"""`mcp-auth users …` against the emulator: record changes, and one clear error line (exit 2) for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from mcp_auth.cli import main
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm

ENV = {"MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp", "MCP_AUTH_JWT_ISSUER": "http://127.0.0.1:8080/dev",
       "MCP_AUTH_JWT_HS256_KEY": "k" * 48}


@pytest.fixture
async def warm_emulator(user_repo):
    await warm(user_repo)


@pytest.fixture
def cli(firestore_emulator, warm_emulator, monkeypatch, capsys):
    """Run ``mcp-auth users …`` in this process (its own event loop), as the console script does."""
    for name in [k for k in os.environ if k.startswith("MCP_AUTH_")]:
        monkeypatch.delenv(name)
    for name, value in {**ENV, "GOOGLE_CLOUD_PROJECT": TEST_PROJECT}.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = main(["users", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def _record(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_operator_changes_status_scopes_and_toolsets(cli):
    uid = f"cli-{uuid.uuid4().hex[:8]}"
    assert _record(cli("create", uid, "--toolsets", "basics", "--scopes", "mcp:tools"))["status"] == "active"
    assert _record(cli("disable", uid))["status"] == "disabled"
    assert _record(cli("enable", uid))["status"] == "active"
    assert sorted(_record(cli("grant", uid, "notes:read,notes:write"))["scopes"]) == [
        "mcp:tools", "notes:read", "notes:write"]
    assert sorted(_record(cli("revoke", uid, "notes:write"))["scopes"]) == ["mcp:tools", "notes:read"]
    assert sorted(_record(cli("toolsets", uid, "--add", "notes,profile"))["toolsets"]) == [
        "basics", "notes", "profile"]
    assert sorted(_record(cli("toolsets", uid, "--remove", "basics"))["toolsets"]) == ["notes", "profile"]
    assert _record(cli("toolsets", uid, "--set", "notes"))["toolsets"] == ["notes"]
    assert _record(cli("show", uid))["toolsets"] == ["notes"]


@pytest.mark.parametrize(("args", "needle"), [
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
])
def test_hostile_or_malformed_input_is_one_clear_error_line_and_exit_status_2(cli, args, needle):
    done = cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-auth: error:") and needle in lines[0], done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("factory", "needle"), [
    ("nowhere_at_all:FACTORY", "cannot be imported"),
    ("factory:NOTHING", "not a ToolsetFactory"),
    ("factory", "module:attribute"),
    ("../etc:passwd", "module:attribute"),
])
def test_a_factory_that_cannot_be_loaded_is_one_clear_error_line(cli, monkeypatch, factory, needle):
    monkeypatch.setenv("MCP_AUTH_FACTORY", factory)
    done = cli("toolsets", "someone", "--add", "notes")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and needle in lines[0], done.stderr
