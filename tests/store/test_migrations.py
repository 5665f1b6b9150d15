"""Layout versions and migrations on the Firestore emulator, each test on a database of its own.

The shipped step (layout 1) rewrites no document; the runner's resume, idempotence and recording are
also shown with a step that does rewrite documents, defined here and run against the same emulator."""

from __future__ import annotations

import pytest

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.layout import LAYOUT_VERSION, CorruptLayout, LayoutTooNew, layout_ref, read_layout
from mcp_auth.store.migrations import MIGRATIONS, Migration, MigrationError, check_steps, migrate, plan, record_layout
from tests._fixtures.databases import dump, seed_010


def test_the_migrations_end_at_the_layout_this_code_writes():
    assert check_steps(MIGRATIONS) == LAYOUT_VERSION
    assert [m.version for m in MIGRATIONS] == list(range(1, LAYOUT_VERSION + 1))


def test_steps_out_of_order_are_refused():
    step = MIGRATIONS[0]
    with pytest.raises(ValueError, match="expected 1"):
        check_steps([Migration(2, "skips one", step.survey, step.apply)])


async def test_an_empty_database_is_at_layout_0_and_migrates_to_the_current_one(fresh_database):
    client = fresh_database.client
    before = await read_layout(client)
    assert (before.version, before.recorded) == (0, False)

    steps = await plan(client)
    assert steps.target == LAYOUT_VERSION and [s.version for s in steps.steps] == [1]
    done = await migrate(client, steps)
    assert [(a.step.version, a.written) for a in done] == [(1, 0)]
    after = await read_layout(client)
    assert (after.version, after.recorded) == (LAYOUT_VERSION, True)
    assert set(await dump(client)) == {"meta/layout"}  # nothing but the version was written


async def test_a_010_database_keeps_every_document_and_records_the_layout(fresh_database):
    client = fresh_database.client
    paths = await seed_010(client)
    before = await dump(client)

    survey = await MIGRATIONS[0].survey(client)
    assert any("2 of 3 user record(s) keyed by an email address" in line for line in survey), survey
    await migrate(client, await plan(client))

    after = await dump(client)
    assert {p: after[p] for p in paths} == before  # same data, same update times: nothing rewritten
    assert after["meta/layout"][0]["version"] == LAYOUT_VERSION


async def test_running_twice_changes_nothing_the_second_time(fresh_database):
    client = fresh_database.client
    await seed_010(client)
    await migrate(client, await plan(client))
    settled = await dump(client)

    again = await plan(client)
    assert again.steps == () and again.current.version == LAYOUT_VERSION
    assert await migrate(client, again) == []
    assert await dump(client) == settled


async def test_planning_and_surveying_write_nothing(fresh_database):
    client = fresh_database.client
    await seed_010(client)
    before = await dump(client)
    for step in (await plan(client)).steps:
        await step.survey(client)
    assert await dump(client) == before


async def test_a_database_newer_than_the_code_is_refused(fresh_database):
    client = fresh_database.client
    await layout_ref(client).set({"version": LAYOUT_VERSION + 1})
    with pytest.raises(LayoutTooNew, match=rf"version {LAYOUT_VERSION + 1}, newer than this code knows"):
        await plan(client)


@pytest.mark.parametrize("value", ["1", 0, -3, True, None, 1.5, {"v": 1}])
async def test_a_layout_document_without_a_layout_number_is_refused(fresh_database, value):
    await layout_ref(fresh_database.client).set({"version": value})
    with pytest.raises(CorruptLayout, match="not a layout number"):
        await read_layout(fresh_database.client)


@pytest.mark.parametrize(("target", "needle"), [(0, "no layout 0"), (LAYOUT_VERSION + 1, "no layout")])
async def test_a_target_the_code_does_not_know_is_refused(fresh_database, target, needle):
    with pytest.raises(MigrationError, match=needle):
        await plan(fresh_database.client, target=target)


# -- the runner, with a step that rewrites documents ------------------------------------------
def _plan_field_step(*, fail_after: int | None = None) -> Migration:
    """Layout 2 of a made-up release: every user record gets ``plan: "free"`` unless it has a plan."""

    async def pending(client) -> list:
        return [snap async for snap in client.collection("users").stream() if "plan" not in (snap.to_dict() or {})]

    async def survey(client) -> list[str]:
        return [f"{len(await pending(client))} user record(s) get plan 'free'"]

    async def apply(client) -> int:
        written = 0
        for snap in sorted(await pending(client), key=lambda s: s.id):
            if fail_after is not None and written == fail_after:
                raise StoreUnavailable("the run was cut off")
            await snap.reference.update({"plan": "free"})
            written += 1
        return written

    return Migration(2, "user records carry a plan", survey, apply)


async def test_an_interrupted_run_resumes_and_a_second_run_writes_nothing(fresh_database):
    client = fresh_database.client
    await seed_010(client)
    steps = (MIGRATIONS[0], _plan_field_step(fail_after=2))

    with pytest.raises(StoreUnavailable, match="cut off"):
        await migrate(client, await plan(client, steps))
    assert (await read_layout(client)).version == 1  # step 1 recorded, step 2 not

    steps = (MIGRATIONS[0], _plan_field_step())
    resumed = await plan(client, steps)
    assert [s.version for s in resumed.steps] == [2]
    assert await resumed.steps[0].survey(client) == ["2 user record(s) get plan 'free'"]
    assert [a.written for a in await migrate(client, resumed)] == [2]  # only what the first run left
    assert (await read_layout(client)).version == 2
    users = {p: d for p, (d, _) in (await dump(client)).items() if p.count("/") == 1 and p.startswith("users/")}
    assert users and all(d["plan"] == "free" for d in users.values())

    settled = await dump(client)
    assert (await plan(client, steps)).steps == ()
    assert await dump(client) == settled


async def test_to_stops_at_the_layout_asked_for_and_never_goes_back(fresh_database):
    client = fresh_database.client
    steps = (MIGRATIONS[0], _plan_field_step())
    await migrate(client, await plan(client, steps, target=1))
    assert (await read_layout(client)).version == 1
    await migrate(client, await plan(client, steps))
    with pytest.raises(MigrationError, match="never move a layout back"):
        await plan(client, steps, target=1)


async def test_recording_a_layout_another_run_already_recorded_is_not_an_error(fresh_database):
    client = fresh_database.client
    await record_layout(client, 1)
    await record_layout(client, 2)
    stamped = await dump(client)
    await record_layout(client, 2)
    await record_layout(client, 1)
    assert await dump(client) == stamped
    with pytest.raises(MigrationError, match="moved to 2"):
        await record_layout(client, 4)
