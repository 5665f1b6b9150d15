"""Server requests to handshake-era clients, answered through any instance (``MCP_AUTH_BACKCHANNEL``).

Two functions serve the conformance fixture server under one public resource URL. A tool
call opened on one instance asks the client a question on its response stream; the answer
is POSTed to the other instance, as a load balancer may do, and the first call completes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mcp import types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests._fixtures.http import authorization, mcp_request, messages, post_mcp, sse_messages
from tests.e2e.test_request_state import FIXTURE, RESOURCE

HOST = {"Host": "mcp.example.test"}  # the public host both instances serve


def _reply(instance: Any, token: str, message: dict[str, Any] | bytes) -> httpx.Response:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return post_mcp(f"{instance.base}/mcp", token=token, content=body, headers=HOST)


@pytest.fixture
def pair(start_function: Callable[..., Any]) -> Callable[..., list[Any]]:
    def start(**env: str) -> list[Any]:
        settings = {"MCP_AUTH_RESOURCE_URL": RESOURCE, **env}
        return [start_function(_SOURCE=str(FIXTURE), **settings) for _ in range(2)]

    return start


async def test_an_answer_posted_to_the_other_instance_completes_the_call_and_only_its_owner_may_answer(
    pair, make_user, mint
):
    a, b = pair()
    owner, intruder = await make_user(), await make_user()
    token, other = mint(owner.uid, audience=RESOURCE), mint(intruder.uid, audience=RESOURCE)
    call = mcp_request(
        "tools/call", {"name": "test_elicitation", "arguments": {"message": "Who are you?"}}, token=token, headers=HOST
    )
    with httpx.Client(timeout=30) as http, http.stream("POST", f"{a.base}/mcp", **call) as stream:
        assert stream.status_code == 200
        events = sse_messages(stream.iter_lines())
        question = next(events)
        assert question["method"] == "elicitation/create"
        assert question["params"]["message"] == "Who are you?"
        reply_id = question["id"]
        assert isinstance(reply_id, str) and reply_id.startswith("srv-")  # global, not the transport's 1, 2, ...
        answer = {
            "jsonrpc": "2.0",
            "id": reply_id,
            "result": {"action": "accept", "content": {"username": "ada", "email": "ada@example.com"}},
        }

        stolen = _reply(
            b, other, {**answer, "result": {"action": "accept", "content": {"username": "eve", "email": "e@x.io"}}}
        )
        assert stolen.status_code == 404, stolen.text
        assert "waiting for a reply with this id from you" in stolen.json()["error_description"]
        malformed = _reply(b, token, {"jsonrpc": "2.0", "id": reply_id, "error": {"code": "-1", "message": "no"}})
        assert malformed.status_code == 400
        assert "integer" in malformed.json()["error_description"]
        assert _reply(b, token, b'{"jsonrpc": "2.0", "id": "' + reply_id.encode() + b'", "result": ').status_code in (
            400,
            202,
        )  # unparsable JSON is the SDK's parse error, never a 500 (below: the slot survived)

        accepted = _reply(b, token, answer)
        assert accepted.status_code == 202, accepted.text
        assert accepted.content == b""
        assert _reply(b, token, answer).status_code in (404, 409)  # a second answer never lands

        final = next(events)
    assert final["id"] == 1
    assert final["result"]["isError"] is False, final
    text = final["result"]["content"][0]["text"]
    assert text.startswith("User response: action=accept") and '"username":"ada"' in text
    assert "eve" not in text


async def test_the_mcp_client_samples_and_elicits_through_two_instances(pair, round_robin_proxy, make_user, mint):
    proxy = round_robin_proxy()
    resource = f"{proxy.url}/mcp"
    instances = pair(MCP_AUTH_RESOURCE_URL=resource)
    proxy.route_to([f.base for f in instances])
    user = await make_user()
    asked: list[str] = []

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append("sampling")
        prompt = params.messages[0].content.text
        return types.CreateMessageResult(
            role="assistant", model="test-model", content=types.TextContent(type="text", text=f"echo {prompt}")
        )

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append("elicitation")
        return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})

    import httpx2

    headers = authorization(mint(user.uid, audience=resource))
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(
            streamable_http_client(resource, http_client=http),
            mode="legacy",
            raise_exceptions=True,
            sampling_callback=sample,
            elicitation_callback=elicit,
        ) as client,
    ):
        for n in range(3):
            sampled = await client.call_tool("test_sampling", {"prompt": f"hello {n}"})
            assert not sampled.is_error, sampled
            assert sampled.content[0].text == f"LLM response: echo hello {n}"
        elicited = await client.call_tool("test_elicitation", {"message": "Who are you?"})
        assert not elicited.is_error, elicited
        assert '"email":"ada@example.com"' in elicited.content[0].text
    assert asked == ["sampling"] * 3 + ["elicitation"]
    assert all(proxy.hits[f.base] >= 4 for f in instances), proxy.hits  # replies crossed instances


async def test_with_the_back_channel_off_a_server_request_fails_cleanly_and_replies_go_to_the_sdk(
    start_function, make_user, mint
):
    instance = start_function(_SOURCE=str(FIXTURE), MCP_AUTH_RESOURCE_URL=RESOURCE, MCP_AUTH_BACKCHANNEL="off")
    user = await make_user()
    token = mint(user.uid, audience=RESOURCE)
    response = post_mcp(
        f"{instance.base}/mcp",
        "tools/call",
        {"name": "test_sampling", "arguments": {"prompt": "hi"}},
        token=token,
        request_id=3,
        headers=HOST,
    )
    assert response.status_code == 200
    final = messages(response)[-1]
    assert "result" not in final, final
    assert "sampling/createMessage" in final["error"]["message"]  # the SDK's NoBackChannelError, as an error
    late = _reply(instance, token, {"jsonrpc": "2.0", "id": "srv-" + "0" * 32, "result": {}})
    assert late.status_code == 202  # the SDK's stateless behaviour: accepted and dropped


async def test_a_question_left_unanswered_past_the_tool_deadline_is_withdrawn_and_a_late_answer_refused(
    pair, make_user, mint
):
    a, b = pair(MCP_AUTH_TOOL_TIMEOUT="1")
    user = await make_user()
    token = mint(user.uid, audience=RESOURCE)
    call = mcp_request(
        "tools/call",
        {"name": "test_elicitation", "arguments": {"message": "Still there?"}},
        token=token,
        request_id=5,
        headers=HOST,
    )
    with httpx.Client(timeout=30) as http, http.stream("POST", f"{a.base}/mcp", **call) as stream:
        events = list(sse_messages(stream.iter_lines()))  # nobody answers: the deadline ends the call
    question, *rest = events
    assert question["method"] == "elicitation/create"
    cancels = [e for e in rest if e.get("method") == "notifications/cancelled"]
    assert [c["params"]["requestId"] for c in cancels] == [question["id"]]  # withdrawn under the id the client saw
    final = rest[-1]
    assert final["id"] == 5 and final["result"]["isError"] is True
    assert "MCP_AUTH_TOOL_TIMEOUT" in final["result"]["content"][0]["text"]
    late = {"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {}}}
    assert _reply(b, token, late).status_code == 404
