"""Conformance fixtures of spec 2026-07-28: input_required (multi-round-trip) tools and prompt,
the capability-gated diagnostics of ``server-stateless``, and a tool with an ``Mcp-Param`` header.

Every round is a separate, stateless request that may reach either instance: what a later
round needs rides in ``requestState``, which ``wrap_server`` seals with the shared key and
binds to the caller (lib/mcp_auth/request_state.py). The tool bodies only ever see the
plaintext they minted; a tampered or foreign state is refused before they run.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve, Sample
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.shared.exceptions import MCPError
from mcp_types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    SamplingMessage,
    TextContent,
)
from pydantic import BaseModel, Field

FIXTURE_TOOLS = (
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
    "test_missing_capability",
    "test_streaming_elicitation",
    "test_logging_tool",
    "test_mcp_param_header",
)


def _ask(message: str, field: str, kind: str = "string") -> ElicitRequest:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def _sample(text: str, max_tokens: int) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=text))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


ASK_NAME = _ask("What is your name?", "name")
ASK_CONFIRM = _ask("Please confirm", "ok", "boolean")
ASK_STEP1 = _ask("Step 1: What is your name?", "name")
ASK_STEP2 = _ask("Step 2: What is your favorite color?", "color")
ASK_CONTEXT = _ask("What context should the prompt use?", "context")
ASK_CAPITAL = _sample("What is the capital of France?", 100)
ASK_GREETING = _sample("Generate a greeting", 50)
ASK_ROOTS = ListRootsRequest()


def _elicited(ctx: Context, key: str, field: str, kind: type) -> Any:
    """The accepted answer's ``field`` to question ``key``, or None when it is missing or malformed."""
    answer = (ctx.input_responses or {}).get(key)
    if not isinstance(answer, ElicitResult) or answer.action != "accept" or answer.content is None:
        return None
    value = answer.content.get(field)
    return value if isinstance(value, kind) and value != "" else None


def _sampled(ctx: Context, key: str) -> str | None:
    answer = (ctx.input_responses or {}).get(key)
    if not isinstance(answer, CreateMessageResult) or getattr(answer.content, "type", None) != "text":
        return None
    return answer.content.text


def _roots(ctx: Context, key: str) -> list[str] | None:
    answer = (ctx.input_responses or {}).get(key)
    return [str(root.uri) for root in answer.roots] if isinstance(answer, ListRootsResult) else None


def _state(ctx: Context, tool: str) -> dict[str, Any] | None:
    """The state this tool minted last round (already verified and unsealed), or None."""
    if not ctx.request_state:
        return None
    state = json.loads(ctx.request_state)
    return state if isinstance(state, dict) and state.get("tool") == tool else None


def _needs(requests: dict[str, InputRequest], state: dict[str, Any] | None = None) -> InputRequiredResult:
    return InputRequiredResult(input_requests=requests, request_state=json.dumps(state) if state else None)


class Name(BaseModel):
    name: str = Field(description="Your name")


async def ask_name() -> Elicit[Name]:
    return Elicit("What is your name?", Name)


async def sample_greeting() -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text="Say hello"))], max_tokens=20)


def register_input_required_fixtures(server: MCPServer) -> None:
    @server.tool()
    async def test_input_required_result_elicitation(ctx: Context) -> InputRequiredResult | str:
        """Asks the user's name (input_required), then greets them."""
        name = _elicited(ctx, "user_name", "name", str)
        if name is None:  # first round, or an answer missing or malformed: ask (again)
            return _needs({"user_name": ASK_NAME})
        return f"Hello, {name}!"

    @server.tool()
    async def test_input_required_result_sampling(ctx: Context) -> InputRequiredResult | str:
        """Asks the client's model a question (input_required), then returns its answer."""
        text = _sampled(ctx, "capital_question")
        if text is None:
            return _needs({"capital_question": ASK_CAPITAL})
        return f"LLM response: {text}"

    @server.tool()
    async def test_input_required_result_list_roots(ctx: Context) -> InputRequiredResult | str:
        """Asks the client for its roots (input_required), then lists them."""
        roots = _roots(ctx, "client_roots")
        if roots is None:
            return _needs({"client_roots": ASK_ROOTS})
        return f"Client roots: {', '.join(roots) or '(none)'}"

    async def confirmed(ctx: Context, tool: str) -> InputRequiredResult | str:
        state = _state(ctx, tool)
        ok = _elicited(ctx, "confirm", "ok", bool)
        if state is None or ok is None:
            return _needs({"confirm": ASK_CONFIRM}, {"tool": tool, "asked": "confirm"})
        return f"state-ok: confirmed={ok}"

    @server.tool()
    async def test_input_required_result_request_state(ctx: Context) -> InputRequiredResult | str:
        """Asks for a confirmation with requestState; completes only with the state echoed back."""
        return await confirmed(ctx, "test_input_required_result_request_state")

    @server.tool()
    async def test_input_required_result_tampered_state(ctx: Context) -> InputRequiredResult | str:
        """Like the request-state fixture; a modified requestState is refused before this body runs."""
        return await confirmed(ctx, "test_input_required_result_tampered_state")

    @server.tool()
    async def test_input_required_result_multiple_inputs(ctx: Context) -> InputRequiredResult | str:
        """Asks an elicitation, a sampling and a roots question at once; re-asks whatever is missing."""
        tool = "test_input_required_result_multiple_inputs"
        name, greeting, roots = (
            _elicited(ctx, "user_name", "name", str),
            _sampled(ctx, "greeting"),
            _roots(ctx, "client_roots"),
        )
        missing = {
            key: request
            for key, request, answer in (
                ("user_name", ASK_NAME, name),
                ("greeting", ASK_GREETING, greeting),
                ("client_roots", ASK_ROOTS, roots),
            )
            if answer is None
        }
        if missing or _state(ctx, tool) is None:
            return _needs(missing or {"user_name": ASK_NAME}, {"tool": tool})
        return f"name={name} greeting={greeting} roots={','.join(roots or [])}"

    @server.tool()
    async def test_input_required_result_multi_round(ctx: Context) -> InputRequiredResult | str:
        """Two questions in two rounds; the first answer rides requestState into the third round."""
        tool = "test_input_required_result_multi_round"
        state = _state(ctx, tool) or {"tool": tool, "step": 1}
        if state["step"] == 1:
            name = _elicited(ctx, "step1", "name", str)
            if name is None or _state(ctx, tool) is None:
                return _needs({"step1": ASK_STEP1}, state)
            return _needs({"step2": ASK_STEP2}, {"tool": tool, "step": 2, "name": name})
        color = _elicited(ctx, "step2", "color", str)
        if color is None:
            return _needs({"step2": ASK_STEP2}, state)
        return f"{state['name']}'s favorite color is {color}"

    @server.tool()
    async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult | str:
        """Asks only what the client declared it can answer (elicitation, sampling, roots)."""
        caps = ctx.client_capabilities
        offered = {
            key: request
            for key, request, declared in (
                ("user_name", ASK_NAME, caps is not None and caps.elicitation is not None),
                ("capital_question", ASK_CAPITAL, caps is not None and caps.sampling is not None),
                ("client_roots", ASK_ROOTS, caps is not None and caps.roots is not None),
            )
            if declared
        }
        if not offered:
            raise MCPError(
                code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                message="This tool needs the client to declare elicitation, sampling or roots.",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        answered = [key for key in offered if key in (ctx.input_responses or {})]
        if len(answered) < len(offered):
            return _needs({key: offered[key] for key in offered if key not in answered})
        return f"answered: {', '.join(answered)}"

    @server.tool()
    async def test_missing_capability(
        reply: Annotated[CreateMessageResult, Resolve(sample_greeting)],
    ) -> str:
        """Needs sampling: a client that did not declare it gets -32021 (the SDK's resolver check)."""
        return f"sampled: {getattr(reply.content, 'text', '')}"

    @server.tool()
    async def test_streaming_elicitation(name: Annotated[Name, Resolve(ask_name)], ctx: Context) -> str:
        """Needs elicitation: on 2026-07-28 the question comes back as input_required, never as a request."""
        await ctx.report_progress(progress=1, total=1, message="answer received")
        return f"Hello, {name.name}!"

    @server.tool()
    async def test_logging_tool(ctx: Context) -> str:
        """Logs three lines; they reach only clients that asked for a log level."""
        for text in ("logging tool started", "logging tool working", "logging tool finished"):
            await ctx.info(text)
            await asyncio.sleep(0.01)
        return "Logging tool finished"

    @server.tool()
    async def test_mcp_param_header(
        region: Annotated[
            str, Field(description="Region, mirrored in Mcp-Param-Region", json_schema_extra={"x-mcp-header": "Region"})
        ],
    ) -> str:
        """Echoes a parameter the client also sends as the Mcp-Param-Region header."""
        return f"region={region}"

    @server.prompt()
    async def test_input_required_result_prompt(ctx: Context) -> InputRequiredResult | list[UserMessage]:
        """A prompt that asks the user for its context first (input_required on prompts/get)."""
        context = _elicited(ctx, "user_context", "context", str)
        if context is None:
            return _needs({"user_context": ASK_CONTEXT})
        return [UserMessage(content=TextContent(type="text", text=f"Answer using this context: {context}"))]
