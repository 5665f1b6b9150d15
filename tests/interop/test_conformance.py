"""The official MCP conformance suite against two instances behind a round-robin proxy.

Every request of every scenario may land on either instance, so each passing
scenario also proves the server keeps no state between requests.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests._fixtures.http import messages, post_mcp
from tests.interop import node

EXPECTED_FAILURES = json.loads((Path(__file__).parent / "expected_failures.json").read_text())
FIXTURE_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_error_handling",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_reconnection",
    "json_schema_2020_12_tool",
    # spec 2026-07-28 (conformance_function/input_required.py)
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
}


# Scenarios where the server asks the client mid-call (the answer is POSTed to either instance); the suite only
# checks that the question was asked, so the test also checks that the tool then completed with the answer.
BACK_CHANNEL = {"0.1.16": ("tools-call-sampling", "tools-call-elicitation")}

# conformance package version -> (its entry point, how to select the scenarios)
SUITES = {
    "0.1.16": (node.CONFORMANCE, ("--suite", "all")),  # every scenario up to spec 2025-11-25
    "0.2.0-alpha.12": (node.CONFORMANCE_NEXT, ("--requirements", "2026-07-28")),  # what spec 2026-07-28 requires
}


def _run_suite(node_bin: Path, script: Path, url: str, out: Path, *selection: str) -> dict[str, str]:
    result = subprocess.run(
        [str(node_bin), str(script), "server", "--url", url, *selection, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=node.PROJECT_DIR,
    )
    (out / "stdout.txt").write_text(result.stdout + result.stderr)
    return _outcomes(out)


def _tool_results(out: Path, scenarios: tuple[str, ...]) -> dict[str, dict]:
    results = {}
    for checks_file in out.rglob("checks.json"):
        for check in json.loads(checks_file.read_text()):
            if check.get("id") in scenarios:
                results[check["id"]] = (check.get("details") or {}).get("result") or {}
    return results


def _outcomes(out: Path) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for checks_file in out.rglob("checks.json"):
        checks = json.loads(checks_file.read_text())
        failed = [c for c in checks if c.get("status") == "FAILURE"]
        scenario = re.sub(r"^server-(.*)-\d{4}-\d\d-\d\dT[\d-]+Z$", r"\1", checks_file.parent.name)
        outcomes[scenario] = "failed" if failed else "passed"
    return outcomes


def test_fixture_tools_are_registered_so_error_scenarios_cannot_pass_by_accident(conformance_url: str) -> None:
    response = post_mcp(conformance_url, "tools/list", {})
    assert response.status_code == 200, response.text
    names = {tool["name"] for tool in messages(response)[0]["result"]["tools"]}
    assert names >= FIXTURE_TOOLS


@pytest.mark.parametrize("version", sorted(SUITES))
def test_conformance_suite_passes_statelessly_on_two_instances(
    version: str, node_bin: Path, conformance_url: str, tmp_path: Path
) -> None:
    script, selection = SUITES[version]
    outcomes = _run_suite(node_bin, script, conformance_url, tmp_path, *selection)
    assert outcomes, (tmp_path / "stdout.txt").read_text()[-3000:]
    expected = EXPECTED_FAILURES.get(version, {})
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert failed == set(expected), (
        f"unexpected failures: {sorted(failed - set(expected))}; now passing: {sorted(set(expected) - failed)}"
    )
    completed = _tool_results(tmp_path, BACK_CHANNEL.get(version, ()))
    assert set(completed) == set(BACK_CHANNEL.get(version, ())), completed
    for scenario, result in completed.items():
        assert result.get("isError") is False, (scenario, result)
        assert "test response from the client" in str(result) or "testuser" in str(result), (scenario, result)
