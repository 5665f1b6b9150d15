"""The notes and profile toolsets from the real ``mcp`` client over HTTP, on the emulator."""

from __future__ import annotations

import asyncio
import json

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from tests.e2e.clients import MODES, mcp_client

SCOPES = ("mcp:tools", "notes:read", "notes:write", "profile:write")


def text(result: CallToolResult) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture
def notes_client(function_server, make_user, mint):
    async def connect(mode: str = "auto", uid: str | None = None):
        if uid is None:
            uid = (await make_user(toolsets=("notes", "profile"), scopes=SCOPES)).uid
        token = mint(uid, audience=function_server.url, scopes=" ".join(SCOPES))
        return uid, mcp_client(function_server.url, token, mode=mode)

    return connect


@pytest.mark.parametrize("mode", MODES)
async def test_a_note_goes_through_its_whole_life_with_structured_and_text_answers(notes_client, mode):
    _, connecting = await notes_client(mode)
    async with connecting as client:
        created = await client.call_tool("create_note", {"title": "Groceries", "body": "milk", "tags": ["home"]})
        assert not created.is_error
        note = created.structured_content
        assert json.loads(text(created))["id"] == note["id"]  # text mirrors the structured content
        got = (await client.call_tool("get_note", {"id": note["id"]})).structured_content
        assert got == note
        updated = await client.call_tool("update_note", {"id": note["id"], "version": note["version"], "body": "oat"})
        assert updated.structured_content["body"] == "oat"
        assert updated.structured_content["version"] != note["version"]
        stale = await client.call_tool("update_note", {"id": note["id"], "version": note["version"], "body": "x"})
        assert stale.is_error and "changed since you read it" in text(stale)
        deleted = await client.call_tool("delete_note", {"id": note["id"]})
        assert deleted.structured_content == {"id": note["id"], "deleted": True}
        gone = await client.call_tool("get_note", {"id": note["id"]})
        assert gone.is_error and "No note with that id" in text(gone)


async def test_list_is_newest_first_filters_by_tag_and_pages_with_cursors(notes_client):
    _, connecting = await notes_client()
    async with connecting as client:
        ids = []
        for i in range(5):
            tags = ["even"] if i % 2 == 0 else ["odd"]
            created = await client.call_tool("create_note", {"title": f"n{i}", "tags": tags})
            ids.append(created.structured_content["id"])
        seen, cursor = [], None
        while True:
            args = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.call_tool("list_notes", args)).structured_content
            seen += [n["id"] for n in page["notes"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids[::-1]
        even = (await client.call_tool("list_notes", {"tag": "even"})).structured_content["notes"]
        assert [n["id"] for n in even] == [ids[4], ids[2], ids[0]]


async def test_search_matches_title_prefixes_in_any_case_and_tags(notes_client):
    _, connecting = await notes_client()
    async with connecting as client:
        for title, tags in (("Meeting Monday", ["work"]), ("meeting notes", []), ("Menu", ["work"])):
            await client.call_tool("create_note", {"title": title, "tags": tags})
        by_prefix = (await client.call_tool("search_notes", {"title_prefix": "MEET"})).structured_content
        assert sorted(n["title"] for n in by_prefix["notes"]) == ["Meeting Monday", "meeting notes"]
        both = (await client.call_tool("search_notes", {"title_prefix": "me", "tag": "work"})).structured_content
        assert [n["title"] for n in both["notes"]] == ["Meeting Monday", "Menu"]
        neither = await client.call_tool("search_notes", {})
        assert neither.is_error and "title_prefix, tag" in text(neither)


async def test_a_retried_create_with_the_same_request_id_makes_one_note(notes_client):
    _, connecting = await notes_client()
    async with connecting as client:
        args = {"title": "once", "request_id": "client-req-1"}
        first, second = await asyncio.gather(*(client.call_tool("create_note", args) for _ in range(2)))
        assert first.structured_content["id"] == second.structured_content["id"]
        listed = (await client.call_tool("list_notes", {})).structured_content["notes"]
        assert [n["title"] for n in listed] == ["once"]


@pytest.mark.parametrize(
    "tool, args, needle",
    [
        ("create_note", {"title": "x", "tittle": "typo"}, "tittle"),
        ("create_note", {"title": "x" * 201}, "title"),
        ("create_note", {"title": "x", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ("create_note", {"title": "x", "tags": ["Not A Tag"]}, "tags"),
        ("list_notes", {"limit": 1000}, "limit"),
        ("list_notes", {"cursor": "garbage"}, "cursor"),
        ("update_settings", {"version": "v", "settings": {"colour": "red"}}, "colour"),
        ("update_settings", {"version": "v", "settings": {"timezone": "Mars/Olympus"}}, "time zone"),
    ],
)
async def test_strict_schemas_reject_unknown_and_oversized_input_with_a_clear_tool_error(
    notes_client, tool, args, needle
):
    _, connecting = await notes_client()
    async with connecting as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    assert needle in text(result)


async def test_schemas_published_to_clients_forbid_unknown_fields(notes_client):
    _, connecting = await notes_client()
    async with connecting as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {
        "create_note",
        "get_note",
        "list_notes",
        "update_note",
        "delete_note",
        "search_notes",
        "get_profile",
        "update_settings",
    }
    assert all(t.input_schema.get("additionalProperties") is False for t in tools.values())
    assert all(t.output_schema for t in tools.values())


async def test_each_note_is_a_resource_and_the_prompt_embeds_recent_notes(notes_client):
    _, connecting = await notes_client()
    async with connecting as client:
        note = (await client.call_tool("create_note", {"title": "Resource", "body": "as json"})).structured_content
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["note://{id}"]
        read = await client.read_resource(f"note://{note['id']}")
        assert json.loads(read.contents[0].text)["body"] == "as json"
        with pytest.raises(MCPError):
            await client.read_resource("note://" + "0" * 24)
        prompt = await client.get_prompt("summarize_notes", {})
        assert "as json" in prompt.messages[0].content.text


async def test_profile_shows_who_you_are_and_keeps_settings_with_optimistic_concurrency(notes_client):
    uid, connecting = await notes_client()
    async with connecting as client:
        profile = (await client.call_tool("get_profile", {})).structured_content
        assert profile["user_id"] == uid and profile["auth_method"] == "jwt"
        assert profile["toolsets"] == ["notes", "profile"]
        changed = await client.call_tool(
            "update_settings",
            {"version": profile["version"], "settings": {"timezone": "Europe/Paris", "display_name": "Ada"}},
        )
        assert changed.structured_content["settings"]["timezone"] == "Europe/Paris"
        stale = await client.call_tool(
            "update_settings", {"version": profile["version"], "settings": {"timezone": "UTC"}}
        )
        assert stale.is_error and "changed since you read them" in text(stale)
        cleared = await client.call_tool(
            "update_settings", {"version": changed.structured_content["version"], "clear": ["display_name"]}
        )
        assert cleared.structured_content["settings"]["display_name"] is None
        assert (await client.call_tool("get_profile", {})).structured_content["settings"]["timezone"] == "Europe/Paris"
