"""Toolsets in process: what a team may build, what is refused at import with a clear error, and the one
translation of framework errors into MCP errors for every kind of handler."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from mcp_auth import (
    ConfigError,
    Conflict,
    CredentialNotConnected,
    NotFound,
    StoreUnavailable,
    Toolset,
    ToolsetFactory,
    prompt,
    resource,
    tool,
)
from mcp_auth.toolsets import SCOPES_META_KEY, mcp_error


def echo(text: str) -> str:
    """Echo."""
    return text


async def missing(id: str) -> str:
    """Always missing."""
    raise NotFound("No note with that id.")


async def unavailable() -> str:
    """The store is down."""
    raise StoreUnavailable("The data store is unavailable (DeadlineExceeded); retry shortly.")


def test_a_tool_carries_its_scopes_where_clients_see_them():
    built = tool(echo, scopes=["b", "a", "a"])
    assert built.meta == {SCOPES_META_KEY: ["a", "b"]}
    assert Toolset("t", tools=[built]).scopes == frozenset({"a", "b"})


def test_strict_tools_refuse_unknown_arguments_and_say_so_in_their_schema():
    from pydantic import ValidationError

    built = tool(echo, strict=True)
    assert built.parameters["additionalProperties"] is False
    with pytest.raises(ValidationError, match="Extra inputs"):
        built.fn_metadata.validate_arguments({"text": "x", "txet": "y"})
    assert tool(echo).fn_metadata.validate_arguments({"text": "x", "txet": "y"})["text"] == "x"  # lenient by default


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Toolset("Bad Name"), "lower-case"),
        (lambda: Toolset("t", tools=[echo]), "built with tool"),
        (lambda: Toolset("t", tools=[tool(echo), tool(echo)]), "two tools named 'echo'"),
        (lambda: tool(echo, scopes="mcp:tools"), "list of scope names"),
        (lambda: tool(echo, scopes=["has space"]), "not a scope name"),
        (lambda: resource(echo, "page://{unclosed"), "not a valid URI template"),
        (lambda: ToolsetFactory([Toolset("t"), Toolset("t")]), "Two toolsets are named 't'"),
        (lambda: ToolsetFactory([Toolset("a", tools=[tool(echo)]), Toolset("b", tools=[tool(echo)])]), "in both"),
        (lambda: ToolsetFactory(["notes"]), "takes Toolset objects"),
    ],
)
def test_a_malformed_toolset_is_refused_at_import_with_what_to_fix(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


@pytest.mark.parametrize(
    ("error", "kind", "expected", "text"),
    [
        (NotFound("No note with that id."), "tool", ToolError, "No note with that id."),
        (StoreUnavailable("down"), "tool", ToolError, "Temporarily unavailable, retryable: down"),
        (NotFound("gone"), "resource", ResourceNotFoundError, "gone"),
        (Conflict("changed"), "resource", ResourceError, "changed"),
        (CredentialNotConnected("github", display_name="GitHub"), "tool", ToolError, "connect GitHub"),
    ],
)
def test_framework_errors_become_the_mcp_error_of_the_handlers_kind(error, kind, expected, text):
    translated = mcp_error(error, kind)
    assert type(translated) is expected and text in str(translated)


def test_a_prompt_error_carries_a_json_rpc_code_that_says_whose_fault_it_is():
    assert mcp_error(NotFound("x"), "prompt").error.code == INVALID_PARAMS
    assert mcp_error(StoreUnavailable("x"), "prompt").error.code == INTERNAL_ERROR


async def test_handlers_are_wrapped_once_and_keep_their_signature():
    built = tool(missing)
    assert built.parameters["required"] == ["id"]
    with pytest.raises(ToolError, match="No note with that id"):
        await built.fn(id="x")
    entry = resource(missing, "note://{id}")
    with pytest.raises(ResourceNotFoundError):
        await entry.fn(id="x")
    with pytest.raises(MCPError) as caught:
        await prompt(unavailable).prompt.fn()
    assert caught.value.error.code == INTERNAL_ERROR
