"""Terraform's log-based metrics read exactly what the function writes.

The metric filters and label extractors come from the plan; the log lines come from a
real function process that served an allowed call, a refused token and a failing tool.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from tests.e2e.clients import mcp_client
from tests.terraform.plan_json import of_type

_CLAUSE = re.compile(r'^jsonPayload\.([\w.]+)(!=|=)(?:"([^"]*)"|(true|false))$')


def _matches(filter_text: str, entry: dict[str, Any]) -> bool:
    clauses = [c.strip() for c in filter_text.split(" AND ") if c.strip().startswith("jsonPayload.")]
    assert clauses, f"no jsonPayload condition in {filter_text!r}"
    for clause in clauses:
        m = _CLAUSE.match(clause)
        assert m, f"the test cannot evaluate {clause!r}; extend it with the new filter form"
        path, op, text, boolean = m.groups()
        value: Any = entry
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        expected: Any = text if text is not None else boolean == "true"
        if (op == "=") != (value == expected):
            return False
    return True


def _extract(expression: str, entry: dict[str, Any]) -> Any:
    m = re.fullmatch(r"EXTRACT\(jsonPayload\.([\w.]+)\)", expression)
    assert m, expression
    value: Any = entry
    for part in m.group(1).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def test_metric_filters_and_labels_match_the_lines_the_code_writes(
    terraform_plan, start_function, make_user, mint
):
    server = start_function()
    user = await make_user()
    async with mcp_client(server.url, mint(user.uid, audience=server.url), mode="legacy") as client:
        assert not (await client.call_tool("echo", {"text": "fine"})).is_error
        assert (await client.call_tool("echo_with_progress", {"text": "x", "steps": 99})).is_error
    refused = httpx.post(server.url, headers={"Authorization": "Bearer not-a-jwt", "Content-Type": "application/json"},
                         content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}', timeout=30)
    assert refused.status_code == 401
    time.sleep(0.5)
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]

    metrics = {r["values"]["name"].rsplit("/", 1)[-1]: r["values"] for r in of_type(terraform_plan,
                                                                                       "google_logging_metric")}
    auth = metrics["auth_failures"]
    hits = [e for e in lines if _matches(auth["filter"], e)]
    assert hits and {_extract(auth["label_extractors"]["reason"], e) for e in hits} == {"invalid_token"}

    tools = metrics["tool_errors"]
    hits = [e for e in lines if _matches(tools["filter"], e)]
    assert [_extract(tools["label_extractors"]["tool"], e) for e in hits] == ["echo_with_progress"]
