"""The tasks extension through real HTTP: two instances, Firestore emulator, JWT-authenticated users."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp_auth import UserRecord
from tests.tasks.conftest import TaskClient

UNKNOWN_CODE = -32602


async def test_a_task_created_on_one_instance_is_read_answered_and_cancelled_on_the_other(
    tasks_pair: tuple[Any, Any],
    make_user: Callable[..., Awaitable[UserRecord]],
    client_for: Callable[[Any, str], TaskClient],
) -> None:
    user = await make_user()
    on_a, on_b = client_for(tasks_pair[0], user.uid), client_for(tasks_pair[1], user.uid)

    created = await on_a.result("tools/call", {"name": "slow_compute", "arguments": {"seconds": 0.2}})
    assert created["resultType"] == "task" and created["status"] == "working"
    done = await on_b.until(created["taskId"], {"completed", "failed", "cancelled"})
    assert done["status"] == "completed" and done["result"]["content"][0]["text"].startswith("Computed")

    long = await on_a.result("tools/call", {"name": "slow_compute", "arguments": {"seconds": 60}})
    assert (await on_b.result("tasks/get", {"taskId": long["taskId"]}))["status"] == "working"
    assert await on_b.result("tasks/cancel", {"taskId": long["taskId"]}) == {
        "resultType": "complete",
        "_meta": ANY_META,
    }
    assert (await on_a.result("tasks/get", {"taskId": long["taskId"]}))["status"] == "cancelled"

    asking = await on_a.result("tools/call", {"name": "confirm_delete", "arguments": {"filename": "a.txt"}})
    parked = await on_b.until(asking["taskId"], {"input_required"})
    [(key, request)] = parked["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    await on_b.result(
        "tasks/update",
        {"taskId": asking["taskId"], "inputResponses": {key: {"action": "accept", "content": {"confirm": True}}}},
    )
    finished = await on_a.until(asking["taskId"], {"completed", "failed", "cancelled"})
    assert finished["result"]["content"][0]["text"] == "Deleted a.txt"


class _AnyMeta:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict)


ANY_META = _AnyMeta()


async def test_another_users_task_id_answers_exactly_like_an_unknown_one_and_stays_untouched(
    tasks_pair: tuple[Any, Any],
    make_user: Callable[..., Awaitable[UserRecord]],
    client_for: Callable[[Any, str], TaskClient],
) -> None:
    owner, other = await make_user(), await make_user()
    as_owner, as_other = client_for(tasks_pair[0], owner.uid), client_for(tasks_pair[1], other.uid)
    task = await as_owner.result("tools/call", {"name": "slow_compute", "arguments": {"seconds": 60}})
    task_id = task["taskId"]
    unknown_id = "0" * len(task_id)

    for method, extra in (("tasks/get", {}), ("tasks/cancel", {}), ("tasks/update", {"inputResponses": {}})):
        foreign = await as_other.error(method, {"taskId": task_id, **extra})
        missing = await as_other.error(method, {"taskId": unknown_id, **extra})
        assert foreign == missing and foreign["code"] == UNKNOWN_CODE, (method, foreign, missing)
    assert (await as_owner.result("tasks/get", {"taskId": task_id}))["status"] == "working"
    await as_owner.result("tasks/cancel", {"taskId": task_id})


async def test_malformed_and_hostile_task_requests_get_clear_errors_never_a_500(
    tasks_pair: tuple[Any, Any],
    make_user: Callable[..., Awaitable[UserRecord]],
    client_for: Callable[[Any, str], TaskClient],
) -> None:
    user = await make_user()
    client = client_for(tasks_pair[0], user.uid)
    task_id = (await client.result("tools/call", {"name": "confirm_delete", "arguments": {"filename": "b"}}))["taskId"]

    huge = "x" * 4000
    assert (await client.error("tasks/get", {"taskId": huge}))["code"] == UNKNOWN_CODE
    assert (await client.error("tasks/get", {"taskId": "../../users/someone"}))["code"] == UNKNOWN_CODE
    for bad in (12345, None, ["a"], {"id": "a"}):
        error = await client.error("tasks/get", {"taskId": bad})
        assert error["code"] == -32602 and "taskId" in error["message"], (bad, error)
    error = await client.error("tasks/update", {"taskId": task_id, "inputResponses": ["yes"]})
    assert error["code"] == -32602 and "inputResponses" in error["message"]
    error = await client.error("tasks/update", {"taskId": task_id, "inputResponses": {f"k{i}": {} for i in range(500)}})
    assert error["code"] == -32602 and "at most" in error["message"]
    error = await client.error("tasks/update", {"taskId": task_id, "inputResponses": {"k": "yes"}})
    assert error["code"] == -32602 and "object" in error["message"]
    error = await client.error("tasks/update", {"taskId": task_id, "inputResponses": {"k": {"a": "x" * 70_000}}})
    assert error["code"] == -32602 and "bytes" in error["message"]
    # answers to keys the server never issued are ignored, as the spec asks
    ack = await client.result("tasks/update", {"taskId": task_id, "inputResponses": {"nope": {"action": "accept"}}})
    assert ack["resultType"] == "complete"

    error = await client.error("tasks/get", {"taskId": task_id}, headers={"Mcp-Name": "another-task"})
    assert error["code"] == -32020 and "Mcp-Name" in error["message"]
    error = await client.error("tasks/get", {"taskId": task_id}, tasks=False)
    assert error["code"] == -32021 and error["data"]["requiredCapabilities"]["extensions"] == {
        "io.modelcontextprotocol/tasks": {}
    }
    for removed in ("tasks/list", "tasks/result"):
        assert (await client.error(removed, {"taskId": task_id}))["code"] == -32601
    error = await client.error("tools/call", {"name": "failing_job", "arguments": {}}, tasks=False)
    assert error["code"] == -32021 and "failing_job" in error["message"]
    await client.result("tasks/cancel", {"taskId": task_id})
    assert (await client.result("tasks/get", {"taskId": task_id}))["status"] == "cancelled"
    await client.result("tasks/cancel", {"taskId": task_id})  # cancelling an ended task is a no-op


async def test_clients_without_the_extension_get_plain_tool_results(
    tasks_pair: tuple[Any, Any],
    make_user: Callable[..., Awaitable[UserRecord]],
    client_for: Callable[[Any, str], TaskClient],
) -> None:
    user = await make_user()
    client = client_for(tasks_pair[1], user.uid)
    result = await client.result("tools/call", {"name": "slow_compute", "arguments": {"seconds": 0}}, tasks=False)
    assert result["resultType"] == "complete" and "taskId" not in result
    assert result["content"][0]["text"].startswith("Computed")
