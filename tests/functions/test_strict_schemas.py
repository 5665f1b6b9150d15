"""Tool input schemas of the notes and profile toolsets, checked in process (no server needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from toolsets import notes, profile

TOOLS = {t.name: t for t in (*notes.TOOLSET.tools, *profile.TOOLSET.tools)}


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_rejects_unknown_arguments_and_says_so_in_its_schema(name):
    tool = TOOLS[name]
    assert tool.parameters["additionalProperties"] is False
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        tool.fn_metadata.validate_arguments({"unexpected": 1})


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("create_note", {"title": "x", "body": "b" * 20_001}),
        ("create_note", {"title": "   "}),
        ("create_note", {"title": "x", "request_id": "has space"}),
        ("get_note", {"id": "x" * 65}),
        ("search_notes", {"title_prefix": "p" * 201}),
        ("list_notes", {"limit": 0}),
        ("update_settings", {"version": "v", "settings": {"notes_page_size": 51}}),
        ("update_settings", {"version": "v", "settings": {"language": "english"}}),
        ("update_settings", {"version": "v", "clear": ["everything"]}),
    ],
)
def test_oversized_or_malformed_values_are_refused_before_the_handler_runs(name, args):
    with pytest.raises(ValidationError):
        TOOLS[name].fn_metadata.validate_arguments(args)


def test_stored_settings_the_schema_no_longer_accepts_are_left_out_not_fatal():
    shown = profile._settings({"timezone": "Nowhere/Else", "display_name": "Ada", "legacy": True})
    assert shown.model_dump(exclude_none=True) == {"display_name": "Ada"}
