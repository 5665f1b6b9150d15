"""The fork boundary, end to end: a team's toolset (a tool, a resource and a prompt, each with its scope)
written in a directory of its own, served by the unchanged ``functions/main.py`` because
``MCP_AUTH_FACTORY`` names it, to a real MCP client, with every scope enforced. Nothing in ``lib/``
knows about it."""

from __future__ import annotations

import os
import textwrap

import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.clients import MODES, mcp_client

TEAM_CODE = '''
from mcp_auth import Toolset, ToolsetFactory, current_user, prompt, resource, tool, user_store


async def add_entry(text: str) -> str:
    """Add an entry to your own log."""
    created = await user_store().collection("entries").create({"text": text})
    return created.id


async def entry(id: str) -> str:
    """One of your entries."""
    return (await user_store().collection("entries").get(id)).data["text"]


def daily_summary(day: str = "today") -> str:
    """Ask for a summary of your entries."""
    return f"Summarise the entries of {current_user().user_id} for {day}."


JOURNAL = Toolset(
    "journal",
    tools=[tool(add_entry, scopes=["journal:write"], strict=True)],
    resources=[resource(entry, "journal://{id}", scopes=["journal:read"], mime_type="text/plain")],
    prompts=[prompt(daily_summary, scopes=["journal:read"])],
)
FACTORY = ToolsetFactory([JOURNAL])
'''


@pytest.fixture(scope="module")
def team_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("team")
    (folder / "team_toolsets.py").write_text(textwrap.dedent(TEAM_CODE))
    return str(folder)


@pytest.fixture
def journal(start_function, team_dir):
    return start_function(
        MCP_AUTH_FACTORY="team_toolsets:FACTORY",
        MCP_AUTH_SCOPES_SUPPORTED=None,
        PYTHONPATH=os.pathsep.join([team_dir, os.environ.get("PYTHONPATH", "")]),
    )


@pytest.mark.parametrize("mode", MODES)
async def test_a_team_toolset_is_served_with_every_scope_enforced(journal, make_user, mint, mode):
    user = await make_user(toolsets=("journal",), scopes=("journal:read", "journal:write"))
    writer = mint(user.uid, audience=journal.url, scopes="journal:read journal:write")
    async with mcp_client(journal.url, writer, mode=mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["add_entry"]
        created = await client.call_tool("add_entry", {"text": "shipped the fork"})
        assert not created.is_error
        entry_id = created.content[0].text
        read = await client.read_resource(f"journal://{entry_id}")
        assert read.contents[0].text == "shipped the fork"
        assert [t.uri_template for t in (await client.list_resource_templates()).resource_templates] == [
            "journal://{id}"
        ]
        rendered = await client.get_prompt("daily_summary", {"day": "Monday"})
        assert user.uid in rendered.messages[0].content.text

    reader = mint(user.uid, audience=journal.url, scopes="journal:read")
    async with mcp_client(journal.url, reader, mode=mode) as client:
        assert (await client.list_tools()).tools == []  # a user sees only what they may call
        with pytest.raises(MCPError):  # every generation: HTTP 403 insufficient_scope before dispatch
            await client.call_tool("add_entry", {"text": "not allowed"})

    nothing = mint(user.uid, audience=journal.url, scopes="")
    async with mcp_client(journal.url, nothing, mode=mode) as client:
        assert (await client.list_resource_templates()).resource_templates == []
        assert (await client.list_prompts()).prompts == []
        with pytest.raises(MCPError, match="insufficient_scope"):
            await client.read_resource(f"journal://{entry_id}")
        with pytest.raises(MCPError, match="insufficient_scope"):
            await client.get_prompt("daily_summary", {})


async def test_the_metadata_advertises_the_team_toolsets_scopes(journal):
    import httpx

    document = httpx.get(f"{journal.base}/.well-known/oauth-protected-resource/mcp", timeout=10).json()
    assert document["scopes_supported"] == ["journal:read", "journal:write"]


async def test_a_missing_entry_is_a_resource_error_not_a_crash(journal, make_user, mint):
    user = await make_user(toolsets=("journal",), scopes=("journal:read",))
    token = mint(user.uid, audience=journal.url, scopes="journal:read")
    async with mcp_client(journal.url, token) as client:
        with pytest.raises(MCPError, match="with that id"):
            await client.read_resource("journal://nothing-here")
