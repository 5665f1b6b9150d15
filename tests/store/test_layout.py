"""The server's check of the database layout: once per instance, on the emulator; and through the app,
a database migrated by a newer framework is refused with 503 while an older one is served with a warning."""

from __future__ import annotations

import asyncio
import logging

import pytest

from factory import FACTORY
from mcp_auth import wrap_server
from mcp_auth.store.layout import LAYOUT_VERSION, LayoutGate, LayoutTooNew, layout_ref
from tests._fixtures.http import mcp_request, messages
from tests._fixtures.local_app import local_client, local_settings, local_token


class Counting:
    """The gate's client source, counting how often the gate goes to Firestore."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, 0

    def __call__(self):
        self.calls += 1
        return self.client


async def test_a_current_layout_is_read_once_and_then_never_again(fresh_database, caplog):
    await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION})
    source = Counting(fresh_database.client)
    gate = LayoutGate(source)
    with caplog.at_level(logging.WARNING, logger="mcp_auth"):
        await asyncio.gather(*(gate.check() for _ in range(20)))  # concurrent first requests share one read
        await gate.check()
    assert gate.ok and source.calls == 1
    assert not [r for r in caplog.records if "layout" in r.getMessage()]


@pytest.mark.parametrize("recorded", [None, 0])
async def test_an_older_or_unrecorded_layout_is_served_with_one_warning_naming_migrate(
    fresh_database, caplog, recorded
):
    gate = LayoutGate(lambda: fresh_database.client, known=LAYOUT_VERSION + 1)
    if recorded is not None:
        await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION})
    with caplog.at_level(logging.WARNING, logger="mcp_auth"):
        for _ in range(3):
            await gate.check()
    warnings = [r.getMessage() for r in caplog.records if "layout" in r.getMessage()]
    assert gate.ok and len(warnings) == 1 and "run `mcp-auth migrate`" in warnings[0], warnings


async def test_a_newer_layout_is_refused_on_every_check_after_one_read(fresh_database, caplog):
    await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION + 1})
    source = Counting(fresh_database.client)
    gate = LayoutGate(source)
    with caplog.at_level(logging.ERROR, logger="mcp_auth"):
        for _ in range(3):
            with pytest.raises(LayoutTooNew, match="never moves a layout back") as refused:
                await gate.check()
    assert refused.value.status == 503 and not gate.ok and source.calls == 1
    assert len([r for r in caplog.records if r.levelno == logging.ERROR and "newer than" in r.getMessage()]) == 1


async def test_an_unreadable_layout_is_served_and_read_again_only_after_the_interval(fresh_database, clock):
    await layout_ref(fresh_database.client).set({"version": "two"})
    source = Counting(fresh_database.client)
    gate = LayoutGate(source, retry_interval=30.0, clock=clock)
    await gate.check()
    await gate.check()
    assert not gate.ok and source.calls == 1
    clock.advance(31)
    await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION})
    await gate.check()
    assert gate.ok and source.calls == 2


def _app(project: str):
    settings = local_settings(
        GOOGLE_CLOUD_PROJECT=project,
        MCP_AUTH_RATE_LIMIT_IP="off",
        MCP_AUTH_RATE_LIMIT_USER="off",
        MCP_AUTH_RATE_LIMIT_TOOL="off",
        MCP_AUTH_FIRST_LOGIN="create",
        MCP_AUTH_DEFAULT_TOOLSETS="basics",
    )
    return wrap_server(FACTORY, settings=settings)


async def _list_tools(app):
    async with local_client(app) as client:
        return await client.post("/mcp", **mcp_request("tools/list", token=local_token("ann")))


async def test_the_app_refuses_a_database_migrated_by_a_newer_framework(fresh_database):
    await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION + 1})
    response = await _list_tools(_app(fresh_database.project))
    assert response.status_code == 503 and response.json()["error"] == "layout_too_new"
    assert "Deploy that version" in response.json()["error_description"]


async def test_the_app_serves_a_database_whose_layout_is_not_recorded(fresh_database, caplog):
    with caplog.at_level(logging.WARNING, logger="mcp_auth"):
        response = await _list_tools(_app(fresh_database.project))
    assert response.status_code == 200 and messages(response)[0]["result"]["tools"]
    assert any("mcp-auth migrate" in r.getMessage() for r in caplog.records)
