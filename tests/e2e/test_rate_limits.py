"""Rate limits across two real function processes behind a round-robin proxy, sharing one Firestore emulator.

The served function is ``rate_limited_function/main.py`` (the production app with the
limiter in front) until ``wrap_server`` calls the limiter itself.
"""

import uuid
from pathlib import Path

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from mcp_auth.ratelimit import RATE_LIMITED_CODE
from mcp_auth.store.users import UserRecord
from tests._fixtures.http import mcp_request
from tests.e2e.clients import mcp_client

SOURCE = Path(__file__).parent / "rate_limited_function" / "main.py"
NOW = "1800000030"  # the limiter's frozen clock: 30 s into a minute window


async def test_an_address_limit_holds_in_total_across_two_instances_not_per_instance(start_function, round_robin_proxy):
    proxy = round_robin_proxy()
    public = proxy.url + "/mcp"
    env = {"MCP_AUTH_RESOURCE_URL": public, "RATE_TEST_LIMIT": "12/minute", "RATE_TEST_NOW": NOW}
    instances = [start_function(**env, _SOURCE=str(SOURCE)) for _ in range(2)]
    proxy.route_to([fn.base for fn in instances])
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # fresh: the emulator outlives one test
    # the front end appends the client's address last; what the client wrote before it is never read
    request = mcp_request(headers={"X-Forwarded-For": f"198.51.100.7, {address}"})
    statuses: list[int] = []
    retry_after: set[str] = set()
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(30):
            response = await client.post(public, **request)
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after.add(response.headers["retry-after"])
                assert response.json()["error"] == "rate_limited"
    admitted = [s for s in statuses if s != 429]
    assert all(s == 401 for s in admitted), statuses  # no token: the app itself answers 401
    assert len(admitted) == 12, statuses  # twelve in total, not twelve per instance
    assert retry_after == {"30"}
    assert all(proxy.hits[fn.base] >= 15 for fn in instances)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_users_tool_quota_holds_across_instances_and_answers_with_the_retry_time(
    start_function, round_robin_proxy, user_repo, mint, mode
):
    proxy = round_robin_proxy()
    public = proxy.url + "/mcp"
    env = {
        "MCP_AUTH_RESOURCE_URL": public,
        "RATE_TEST_LIMIT": "off",
        "RATE_TEST_TOOL_LIMIT": "50/minute",
        "RATE_TEST_NOW": NOW,
    }
    instances = [start_function(**env, _SOURCE=str(SOURCE)) for _ in range(2)]
    proxy.route_to([fn.base for fn in instances])
    uid = f"quota-{uuid.uuid4().hex[:12]}"
    await user_repo.create(
        UserRecord(
            uid=uid, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"}), quotas={"tool:echo": "3/minute"}
        )
    )
    token = mint(uid, audience=public)
    outcomes: list[object] = []
    async with mcp_client(public, token, mode=mode) as client:
        for _ in range(6):
            try:
                outcomes.append((await client.call_tool("echo", {"text": "hi"})).is_error)
            except MCPError as exc:
                outcomes.append(exc.error)
        assert not (await client.call_tool("whoami", {})).is_error  # other tools keep the deployment's limit
    assert outcomes[:3] == [False, False, False], outcomes
    for error in outcomes[3:]:
        assert error.code == RATE_LIMITED_CODE and error.data == {"kind": "tool", "limit": 3, "retry_after": 30}
    assert all(proxy.hits[fn.base] > 0 for fn in instances)
