"""The conformance fixture server, served exactly as production serves: ``wrap_server`` + functions-framework.

The tools, resources and prompts are the ones the official conformance suite
names (``test_simple_text``, ``test://static-text``, ``test_prompt_with_arguments``,
...). The suite cannot send headers, so the test runs this with the development
provider (``MCP_AUTH_PROVIDERS=dev``, ``MCP_AUTH_DEV_USER``): every request is
one fixed test user, loaded from Firestore like any other.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import functions_framework.aio
from input_required import register_input_required_fixtures  # spec 2026-07-28 fixtures (input_required.py)
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.mcpserver.tools import Tool
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from mcp_auth import UserRecord, wrap_server
from tasks import register_task_fixtures  # the tasks-extension fixtures (tasks.py)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="


class Answer(BaseModel):
    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


class Defaults(BaseModel):
    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active", description="User status", json_schema_extra={"enum": ["active", "inactive", "pending"]}
    )
    verified: bool = Field(default=True, description="Verification status")


class Enums(BaseModel):
    untitledSingle: str = Field(description="Plain enum", json_schema_extra={"enum": ["active", "inactive", "pending"]})
    titledSingle: str = Field(
        description="Titled enum",
        json_schema_extra={
            "oneOf": [
                {"const": "low", "title": "Low Priority"},
                {"const": "medium", "title": "Medium Priority"},
                {"const": "high", "title": "High Priority"},
            ]
        },
    )
    untitledMulti: list[str] = Field(
        description="Plain multi-select",
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write", "execute"]}},
    )
    titledMulti: list[str] = Field(
        description="Titled multi-select",
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"const": "feature", "title": "New Feature"},
                    {"const": "bug", "title": "Bug Fix"},
                    {"const": "docs", "title": "Documentation"},
                ]
            }
        },
    )
    legacyEnum: str = Field(
        description="Legacy enumNames",
        json_schema_extra={
            "enum": ["small", "medium", "large"],
            "enumNames": ["Small Size", "Medium Size", "Large Size"],
        },
    )


async def _elicited(ctx: Context, message: str, schema: type[BaseModel], label: str) -> str:
    result = await ctx.elicit(message=message, schema=schema)
    content = result.data.model_dump_json() if result.action == "accept" else "{}"
    return f"{label}: action={result.action}, content={content}"


def _register_tools(server: MCPServer) -> None:
    @server.tool()
    def test_simple_text() -> str:
        """Returns one text block."""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[types.ImageContent]:
        """Returns one image block."""
        return [types.ImageContent(type="image", data=PNG, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[types.AudioContent]:
        """Returns one audio block."""
        return [types.AudioContent(type="audio", data=WAV, mime_type="audio/wav")]

    @server.tool()
    def test_embedded_resource() -> list[types.EmbeddedResource]:
        """Returns one embedded resource."""
        return [
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(
                    uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
                ),
            )
        ]

    @server.tool()
    def test_multiple_content_types() -> list[types.TextContent | types.ImageContent | types.EmbeddedResource]:
        """Returns text, an image and a resource."""
        return [
            types.TextContent(type="text", text="Multiple content types test:"),
            types.ImageContent(type="image", data=PNG, mime_type="image/png"),
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(
                    uri="test://mixed-content-resource",
                    mime_type="application/json",
                    text=json.dumps({"test": "data", "value": 123}),
                ),
            ),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Sends three log notifications."""
        for text in ("Tool execution started", "Tool processing data", "Tool execution completed"):
            await ctx.info(text)
            await asyncio.sleep(0.02)
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Sends three progress notifications."""
        for step in (0, 50, 100):
            await ctx.report_progress(progress=step, total=100, message=f"Completed step {step} of 100")
            await asyncio.sleep(0.02)
        meta = ctx.request_context.meta
        return str(meta.get("progress_token", 0) if isinstance(meta, dict) else getattr(meta, "progress_token", 0))

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Asks the client's model to complete a prompt."""
        result = await ctx.session.create_message(
            messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=100,
        )
        text = result.content.text if getattr(result.content, "type", None) == "text" else "No response"
        return f"LLM response: {text}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Asks the user for an answer."""
        return await _elicited(ctx, message, Answer, "User response")

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Asks the user with defaults for every primitive type."""
        return await _elicited(ctx, "Please provide user information", Defaults, "Elicitation result")

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Asks the user with every enum schema variant."""
        return await _elicited(
            ctx, "Please select values using different enum schema types", Enums, "Elicitation completed"
        )

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Logs before and after asking the client to reconnect (a stateless stream just continues)."""
        await ctx.info("Before disconnect")
        await ctx.close_sse_stream()
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    @server.tool()
    def test_error_handling() -> str:
        """Always fails."""
        raise RuntimeError("This tool intentionally returns an error for testing")


def _register_resources_and_prompts(server: MCPServer) -> None:
    @server.resource("test://static-text")
    def static_text() -> str:
        """A static text resource."""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A static binary resource."""
        return base64.b64decode(PNG)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template(id: str) -> str:
        """A templated resource."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource")
    def watched() -> str:
        """A resource clients may subscribe to."""
        return "Watched resource content"

    @server.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A prompt without arguments."""
        return [UserMessage(content=types.TextContent(type="text", text="This is a simple prompt for testing."))]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """A prompt with two required arguments."""
        return [
            UserMessage(
                content=types.TextContent(type="text", text=f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
            )
        ]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
        """A prompt embedding a resource."""
        return [
            UserMessage(
                content=types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(
                        uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
                    ),
                )
            ),
            UserMessage(content=types.TextContent(type="text", text="Please process the embedded resource above.")),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt with an image."""
        return [
            UserMessage(content=types.ImageContent(type="image", data=PNG, mime_type="image/png")),
            UserMessage(content=types.TextContent(type="text", text="Please analyze the image above.")),
        ]

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
        return types.Completion(values=[], total=0, has_more=False)


async def _accept(ctx: Any, params: Any) -> types.EmptyResult:
    return types.EmptyResult()


def json_schema_2020_12_tool(
    name: str | None = None,
    address: dict[str, Any] | None = None,
    contactMethod: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> str:
    """Tool with JSON Schema 2020-12 features"""
    return f"name={name} address={json.dumps(address)} contact={contactMethod} phone={phone} email={email}"


SCHEMA_2020_12 = {  # the suite's fixture schema: every 2020-12 keyword must survive tools/list
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}
SCHEMA_TOOL = Tool.from_function(json_schema_2020_12_tool).model_copy(update={"parameters": SCHEMA_2020_12})


def build_server(record: UserRecord) -> MCPServer:
    server = MCPServer("mcp-conformance-test-server", tools=[SCHEMA_TOOL], log_level="WARNING")
    _register_tools(server)
    _register_resources_and_prompts(server)
    register_input_required_fixtures(server)
    register_task_fixtures(server)
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, _accept)
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, _accept)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, _accept)
    return server


app = wrap_server(build_server)


@functions_framework.aio.http
async def mcp(request: Request) -> Response:
    return await app.handle(request)
