"""Terraform's log-based metrics read exactly what the function writes.

The metric filters and label extractors come from the plan; the log lines come from a
real function process that served an allowed call, a refused token and a failing tool.
The active-users metric counts one line per user per hour and instance, and the dashboard charts it.
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
    refused = httpx.post(
        server.url,
        headers={"Authorization": "Bearer not-a-jwt", "Content-Type": "application/json"},
        content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
        timeout=30,
    )
    assert refused.status_code == 401
    time.sleep(0.5)
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]

    metrics = {
        r["values"]["name"].rsplit("/", 1)[-1]: r["values"] for r in of_type(terraform_plan, "google_logging_metric")
    }
    auth = metrics["auth_failures"]
    hits = [e for e in lines if _matches(auth["filter"], e)]
    assert hits and {_extract(auth["label_extractors"]["reason"], e) for e in hits} == {"invalid_token"}

    tools = metrics["tool_errors"]
    hits = [e for e in lines if _matches(tools["filter"], e)]
    assert [_extract(tools["label_extractors"]["tool"], e) for e in hits] == ["echo_with_progress"]

    # several requests of one user (initialize, tools/call twice, ...), one refused: one active-user line
    active = metrics["active_users"]
    assert not active.get("label_extractors"), "no label may carry the user id (one series per user)"
    served = [e for e in lines if e.get("logger") == "mcp_auth.request" and e.get("user") == user.uid]
    assert len(served) > 2
    hits = [e for e in lines if _matches(active["filter"], e)]
    assert hits == [served[0]] and hits[0]["auth"]["decision"] == "allowed"


def test_the_dashboard_charts_active_users_per_hour_summed_across_instances(terraform_plan):
    metric = next(
        r["values"]["name"]
        for r in of_type(terraform_plan, "google_logging_metric")
        if r["values"]["name"].endswith("/active_users")
    )
    dashboard = json.loads(of_type(terraform_plan, "google_monitoring_dashboard")[0]["values"]["dashboard_json"])
    tiles = [t["widget"] for t in dashboard["mosaicLayout"]["tiles"]]
    chart = next(t for t in tiles if t["title"].startswith("Active users"))
    query = chart["xyChart"]["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"]
    assert f'logging.googleapis.com/user/{metric}"' in query["filter"]
    assert query["aggregation"] == {
        "alignmentPeriod": "3600s",
        "perSeriesAligner": "ALIGN_SUM",
        "crossSeriesReducer": "REDUCE_SUM",
        "groupByFields": [],
    }
