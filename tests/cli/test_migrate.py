"""`mcp-auth migrate` against the emulator, each test on a database of its own: it shows the recorded and
target layouts, --dry-run writes nothing, a second run changes nothing, a newer database is refused, and
bad input is one clear error line (exit 2)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from mcp_auth.store.layout import LAYOUT_VERSION, layout_ref, read_layout
from tests._fixtures.databases import dump, seed_010


@pytest.fixture
def migrate(cli, fresh_database):
    """``mcp-auth migrate …`` on the test's own database (from an async test: ``await asyncio.to_thread(...)``)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli("migrate", *args, env={"GOOGLE_CLOUD_PROJECT": fresh_database.project})

    return run


async def test_dry_run_shows_the_layouts_and_the_steps_and_writes_nothing(migrate, fresh_database):
    await seed_010(fresh_database.client)
    before = await dump(fresh_database.client)

    done = await asyncio.to_thread(migrate, "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "database layout: 0 (none recorded: a new database, or one from 0.1.0)"
    assert lines[1] == f"target layout:   {LAYOUT_VERSION}"
    assert lines[2].startswith("step 1: users are upstream accounts")
    assert "  2 of 3 user record(s) keyed by an email address" in done.stdout
    assert lines[-1] == f"dry run: nothing written; `mcp-auth migrate` would record layout {LAYOUT_VERSION}"
    assert await dump(fresh_database.client) == before


async def test_migrate_records_the_layout_and_a_second_run_has_nothing_to_do(migrate, fresh_database):
    await seed_010(fresh_database.client)
    first = await asyncio.to_thread(migrate)
    assert first.returncode == 0, first.stderr
    assert "step 1 applied: 0 document(s) written" in first.stdout
    assert first.stdout.splitlines()[-1] == f"recorded layout {LAYOUT_VERSION}"
    assert (await read_layout(fresh_database.client)).version == LAYOUT_VERSION
    settled = await dump(fresh_database.client)

    second = await asyncio.to_thread(migrate)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f"database layout: {LAYOUT_VERSION}",
        f"target layout:   {LAYOUT_VERSION}",
        "up to date: nothing to do",
    ]
    assert await dump(fresh_database.client) == settled


async def test_an_empty_database_is_stamped(migrate, fresh_database):
    done = await asyncio.to_thread(migrate)
    assert done.returncode == 0, done.stderr
    assert set(await dump(fresh_database.client)) == {"meta/layout"}


async def test_a_database_migrated_by_a_newer_framework_is_refused(migrate, fresh_database):
    await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION + 1})
    for args in ((), ("--dry-run",)):
        done = await asyncio.to_thread(migrate, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and done.stdout == ""
        assert f"layout is version {LAYOUT_VERSION + 1}, newer than this code knows ({LAYOUT_VERSION})" in lines[0]
    assert (await read_layout(fresh_database.client)).version == LAYOUT_VERSION + 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--to", "two"), "--to takes a whole number"),
        (("--to", "0"), "--to must be between 1"),
        (("--to", "-1"), "--to must be between 1"),
        (("--to", "9" * 40), "--to must be between 1"),
        (("--to", str(LAYOUT_VERSION + 1)), f"this code knows layouts 1 to {LAYOUT_VERSION}"),
        (("--dry-run=yes",), "ignored explicit argument"),
        (("--force",), "unrecognized arguments"),
        (("extra",), "unrecognized arguments"),
    ],
)
async def test_bad_input_is_one_clear_error_and_exit_status_2(migrate, fresh_database, args, needle):
    done = await asyncio.to_thread(migrate, *args)
    assert done.returncode == 2 and needle in done.stderr and done.stdout == "", done.stderr
    assert await dump(fresh_database.client) == {}


@pytest.mark.parametrize("value", ["1; drop", -1, True, None])
async def test_a_damaged_layout_document_is_named_and_left_alone(migrate, fresh_database, value):
    await layout_ref(fresh_database.client).set({"version": value})
    before = await dump(fresh_database.client)
    done = await asyncio.to_thread(migrate)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "meta/layout holds version" in lines[0], done.stderr
    assert await dump(fresh_database.client) == before


def test_without_a_project_outside_the_emulator_the_error_names_the_setting(cli, monkeypatch):
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    done = cli("migrate", "--dry-run")
    assert done.returncode == 2 and "needs a project: set GOOGLE_CLOUD_PROJECT" in done.stderr
