"""`mcp-auth users list|delete|export` against the emulator: every page listed, erasure asked for and done."""

from __future__ import annotations

import io
import json
import subprocess
import uuid

import pytest

from mcp_auth.store.api_keys import ApiKeyRepository
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm


@pytest.fixture
async def warm_emulator(user_repo):
    await warm(user_repo)


@pytest.fixture
def users(cli, warm_emulator):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli("users", *args, env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT})

    return run


class _Terminal(io.StringIO):
    """Standard input as an operator's terminal: what they type, and isatty() true."""

    def isatty(self) -> bool:
        return True


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-auth: error:") and needle in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_list_pages_through_every_record_and_filters(users, monkeypatch):
    import mcp_auth.cli.users as module

    monkeypatch.setattr(module, "LIST_PAGE", 2)  # several pages even for a handful of records
    tag = uuid.uuid4().hex[:8]
    toolset = "profile"
    made = [f"ls-{tag}-{i}" for i in range(5)]
    for uid in made:
        _ok(users("create", uid, "--toolsets", toolset if uid.endswith(("1", "2", "3")) else "basics"))
    _ok(users("disable", made[2]))
    everyone = {row["uid"]: row for row in json.loads(_ok(users("list", "--format", "json")))}
    assert set(made) <= set(everyone)
    assert everyone[made[2]]["status"] == "disabled" and everyone[made[1]]["toolsets"] == ["profile"]
    active_profile = json.loads(_ok(users("list", "--status", "active", "--toolset", toolset, "--format", "json")))
    assert {r["uid"] for r in active_profile} & set(made) == {made[1], made[3]}
    disabled = json.loads(_ok(users("list", "--status", "disabled", "--format", "json")))
    assert {r["uid"] for r in disabled} & set(made) == {made[2]}
    table = _ok(users("list", "--toolset", toolset)).splitlines()
    assert table[0].split() == ["UID", "STATUS", "TOOLSETS", "SCOPES"]
    assert any(line.split()[:3] == [made[2], "disabled", "profile"] for line in table)


async def test_delete_without_erase_removes_the_record_and_keeps_the_rest(users, user_repo):
    import asyncio

    uid = f"del-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(lambda: _ok(users("create", uid)))
    await ApiKeyRepository(user_repo._client).create(uid=uid, scopes=["x"], name="k", expires_at=None, pepper=b"p" * 32)
    out = await asyncio.to_thread(lambda: _ok(users("delete", uid)))
    assert "Deleted the user record" in out and "--erase" in out
    assert await user_repo.get(uid) is None
    assert len(await ApiKeyRepository(user_repo._client).list_for(uid)) == 1
    _error(await asyncio.to_thread(users, "delete", uid), "No user record")


async def test_export_then_erase_with_yes_then_nothing_is_left(users, user_repo):
    import asyncio

    uid = f"gdpr-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(lambda: _ok(users("create", uid, "--toolsets", "notes")))
    await ApiKeyRepository(user_repo._client).create(
        uid=uid, scopes=["x"], name="laptop", expires_at=None, pepper=b"p" * 32
    )
    exported = json.loads(await asyncio.to_thread(lambda: _ok(users("export", uid))))
    assert exported["uid"] == uid and exported["collections"]["users"][0]["data"]["toolsets"] == ["notes"]
    assert exported["collections"]["api_keys"][0]["data"]["name"] == "laptop"
    out = await asyncio.to_thread(lambda: _ok(users("delete", uid, "--erase", "--yes")))
    counts = {line.split()[0]: line.split()[-1] for line in out.splitlines()[1:]}
    assert counts["users"] == "1" and counts["api_keys"] == "1" and counts["total"] == "2"
    assert await user_repo.get(uid) is None and await ApiKeyRepository(user_repo._client).list_for(uid) == []
    _error(await asyncio.to_thread(users, "export", uid), "Nothing is stored")
    _error(await asyncio.to_thread(users, "delete", uid, "--erase", "--yes"), "Nothing is stored")


def test_erase_asks_for_the_uid_on_a_terminal_and_refuses_without_one(users, user_repo, monkeypatch):
    uid = f"ask-{uuid.uuid4().hex[:8]}"
    _ok(users("create", uid))
    monkeypatch.setattr("sys.stdin", io.StringIO(uid + "\n"))  # a pipe, not a terminal
    _error(users("delete", uid, "--erase"), "add --yes")
    monkeypatch.setattr("sys.stdin", _Terminal("someone-else\n"))
    done = users("delete", uid, "--erase")
    assert done.returncode == 2 and "Type the user id" in done.stderr
    assert done.stderr.rstrip().endswith("mcp-auth: error: Not confirmed: nothing was erased.")
    assert _ok(users("show", uid))  # still there
    monkeypatch.setattr("sys.stdin", _Terminal(uid + "\n"))
    assert "Erased user" in _ok(users("delete", uid, "--erase"))
    _error(users("show", uid), "No user record")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("delete", "../x"), "user id"),
        (("delete", "../x", "--erase", "--yes"), "user id"),
        (("export", "a" * 300), "user id"),
        (("export", "__name__"), "user id"),
        (("delete", "nobody-" + uuid.uuid4().hex), "No user record"),
        (("export", "nobody-" + uuid.uuid4().hex), "Nothing is stored"),
        (("delete", "someone", "--yes"), "--yes only applies to --erase"),
        (("list", "--toolset", "Bad!"), "not a valid toolset name"),
        (("list", "--toolset", "a,b"), "one toolset name"),
    ],
)
def test_hostile_malformed_or_unknown_input_is_one_clear_error_line(users, args, needle):
    _error(users(*args), needle)


def test_an_unknown_status_is_refused_by_the_parser(users):
    done = users("list", "--status", "gone")
    assert done.returncode == 2 and "invalid choice" in done.stderr and "Traceback" not in done.stderr
