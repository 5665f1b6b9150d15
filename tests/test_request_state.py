"""The requestState of input_required rounds (lib/mcp_auth/request_state.py), sealed and unsealed in process
through the app: bound to the user and to the resource URL, refused when tampered with or minted under
another key, and still accepted after a key rotation when it was sealed with the previous version.

Users are records on the Firestore emulator; the shared key is a secret on the Secret Manager emulator.
The same flows across two function processes are in tests/e2e/test_request_state.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from mcp.server.mcpserver import Context
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult

from mcp_auth import Toolset, ToolsetFactory, current_user, tool
from tests._fixtures.http import MODERN, mcp_request, messages
from tests._fixtures.local_app import LOCAL, local_client, local_token

ASK = ElicitRequest(
    params=ElicitRequestFormParams(
        message="Go ahead?",
        requested_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    )
)
ANSWER = {"confirm": {"action": "accept", "content": {"ok": True}}}
INVALID_PARAMS = -32602
OTHER = "https://other.example.com"


async def proceed(ctx: Context) -> InputRequiredResult | str:
    """Asks for a confirmation, then proceeds with what it wrote into the state the first time."""
    answer = (ctx.input_responses or {}).get("confirm")
    if not ctx.request_state or not isinstance(answer, ElicitResult) or answer.action != "accept":
        return InputRequiredResult(
            input_requests={"confirm": ASK}, request_state=json.dumps({"asked_for": current_user().user_id})
        )
    return f"proceeding for {json.loads(ctx.request_state)['asked_for']}"


FACTORY = ToolsetFactory([Toolset("basics", tools=[tool(proceed)])])


async def _round(app: Any, uid: str, *, base: str = LOCAL, **params: Any) -> dict[str, Any]:
    """One stateless tools/call of ``proceed`` as ``uid``; the JSON-RPC answer."""
    meta = {"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}
    request = mcp_request(
        "tools/call",
        {"name": "proceed", "arguments": {}, "_meta": meta, **params},
        token=local_token(uid, audience=f"{base}/mcp"),
        protocol=MODERN,
    )
    async with local_client(app, base) as client:
        response = await client.post("/mcp", **request)
    assert response.status_code in (200, 400), response.text
    return messages(response)[-1]


async def _state(app: Any, uid: str, **options: Any) -> str:
    first = (await _round(app, uid, **options))["result"]
    assert first["resultType"] == "input_required" and set(first["inputRequests"]) == {"confirm"}
    return first["requestState"]


async def _retry(app: Any, uid: str, state: str, **options: Any) -> dict[str, Any]:
    return await _round(app, uid, inputResponses=ANSWER, requestState=state, **options)


def _proceeded(answer: dict[str, Any]) -> str:
    assert "error" not in answer, answer
    return answer["result"]["content"][0]["text"]


def _refused(answer: dict[str, Any]) -> bool:
    return (
        answer.get("error", {}).get("code") == INVALID_PARAMS
        and answer["error"]["message"] == "Invalid or expired requestState"
    )


@pytest.fixture
async def alice(make_user):
    return await make_user(toolsets=("basics",))


@pytest.fixture
def shared_key(secret_manager):
    """A request-state key secret with one version; the settings that name it."""
    secret_manager.create_secret("request-state", os.urandom(32))
    return {
        "MCP_AUTH_REQUEST_STATE_KEY_SECRET": f"projects/{secret_manager.project}/secrets/request-state",
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
    }


async def test_the_state_is_sealed_and_completes_its_users_retry_but_not_another_users(local_app, alice, make_user):
    app = local_app(FACTORY)
    bob = await make_user(toolsets=("basics",))
    state = await _state(app, alice.uid)
    assert state.startswith("v1.") and alice.uid not in state and "asked_for" not in state  # sealed, not signed
    assert _refused(await _retry(app, bob.uid, state))
    assert _proceeded(await _retry(app, alice.uid, state)) == f"proceeding for {alice.uid}"


async def test_a_tampered_or_forged_state_is_refused_before_the_tool_sees_it(local_app, alice):
    app = local_app(FACTORY)
    state = await _state(app, alice.uid)
    flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    for forged in (state + "x", flipped, state[:-8], "v1.", json.dumps({"asked_for": alice.uid})):
        assert _refused(await _retry(app, alice.uid, forged)), forged
    assert _proceeded(await _retry(app, alice.uid, state)) == f"proceeding for {alice.uid}"


async def test_a_state_sealed_by_an_instance_with_a_key_of_its_own_is_refused_elsewhere(local_app, alice):
    first, second = local_app(FACTORY), local_app(FACTORY)  # no shared key: each has a random one
    assert _refused(await _retry(second, alice.uid, await _state(first, alice.uid)))


async def test_instances_sharing_the_key_accept_each_others_state(local_app, alice, shared_key):
    first, second = local_app(FACTORY, **shared_key), local_app(FACTORY, **shared_key)
    assert _proceeded(await _retry(second, alice.uid, await _state(first, alice.uid))) == f"proceeding for {alice.uid}"


async def test_the_state_is_bound_to_the_resource_url(local_app, alice, shared_key):
    ours = local_app(FACTORY, **shared_key)
    other = local_app(FACTORY, MCP_AUTH_RESOURCE_URL=f"{OTHER}/mcp", **shared_key)  # same key, other deployment
    state = await _state(ours, alice.uid)
    assert _refused(await _retry(other, alice.uid, state, base=OTHER))
    assert _proceeded(await _retry(other, alice.uid, await _state(other, alice.uid, base=OTHER), base=OTHER))


async def test_after_a_rotation_a_state_sealed_with_the_previous_version_is_still_accepted(
    local_app, alice, shared_key, secret_manager
):
    before = local_app(FACTORY, **shared_key)  # reads version 1
    old_state = await _state(before, alice.uid)
    secret_manager.add_version("request-state", os.urandom(32))
    after = local_app(FACTORY, **shared_key)  # starts with versions 2 and 1: seals with 2, opens both
    assert _proceeded(await _retry(after, alice.uid, old_state)) == f"proceeding for {alice.uid}"
    new_state = await _state(after, alice.uid)
    assert new_state != old_state

    secret_manager.disable("request-state", "1")  # the previous version retired
    retired = local_app(FACTORY, **shared_key)
    assert _refused(await _retry(retired, alice.uid, old_state))
    assert _proceeded(await _retry(retired, alice.uid, new_state)) == f"proceeding for {alice.uid}"
