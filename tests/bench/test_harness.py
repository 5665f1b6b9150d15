"""The benchmark harness runs end to end at tiny sizes, so it cannot rot. No timing is asserted."""

from __future__ import annotations

import json

import pytest
from bench.__main__ import main
from bench.fsproxy import CountingProxy
from bench.load import MODERN, answered, echo_call

SECTIONS = (
    "## Targets",
    "## 1. Cold start",
    "## 2. Warm",
    "## 3. Authentication",
    "## 4. Per-user servers",
    "## 5. Firestore",
    "## Where a target is missed",
)


def test_quick_run_writes_every_section_with_no_errors_and_no_warm_reads(firestore_emulator, tmp_path):
    report, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    code = main(["--quick", "--firestore-emulator", firestore_emulator.host, "--out", str(report), "--json", str(raw)])
    assert code == 0
    text = report.read_text()
    assert [s for s in SECTIONS if s not in text] == []
    results = json.loads(raw.read_text())
    assert [c for c in results["warm"] if c["bare"]["errors"] or c["full"]["errors"]] == []
    assert results["soak"]["errors"] == 0
    # the user's record, and the database's layout version (read once per instance: store/layout.py)
    assert results["first_request_firestore"]["reads"] == 2
    assert sum(c["full"]["firestore_reads"] for c in results["warm"]) == 0
    assert results["ttl0"]["firestore_reads"] >= 1
    limited = results["ratelimited"]
    assert limited["full"]["errors"] == 0 and limited["full"]["firestore_writes"] >= 1  # the shared windows are used
    assert "limits on" in text
    rendered = tmp_path / "again.md"
    assert main(["--render", str(raw), "--out", str(rendered)]) == 0  # the report again, from the raw figures
    assert rendered.read_text() == text


def test_render_refuses_a_file_that_is_not_a_saved_run(tmp_path, capsys):
    garbage = tmp_path / "results.json"
    garbage.write_text("{not json")
    for path in (garbage, tmp_path / "missing.json"):
        with pytest.raises(SystemExit) as exit_info:
            main(["--render", str(path), "--out", str(tmp_path / "out.md")])
        assert exit_info.value.code == 2
        assert "--render needs the JSON file" in capsys.readouterr().err
    assert not (tmp_path / "out.md").exists()


def test_echo_call_bodies_name_the_protocol_generation():
    modern_headers, modern_body = echo_call(MODERN)
    legacy_headers, legacy_body = echo_call("2025-11-25")
    assert modern_headers["Mcp-Name"] == "echo" and b"_meta" in modern_body
    assert "Mcp-Name" not in legacy_headers and b"_meta" not in legacy_body


def test_answered_accepts_results_and_rejects_tool_errors_in_json_and_sse():
    ok = b'{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false}}'
    tool_error = b'{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}'
    assert answered(200, ok)
    assert answered(200, b"event: message\ndata: " + ok + b"\n\n")
    assert not answered(200, tool_error)
    assert not answered(401, ok)
    assert not answered(200, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}')


def test_counting_proxy_tells_reads_from_writes():
    counts = {"BatchGetDocuments": 2, "Commit": 1, "RunQuery": 1}
    assert CountingProxy.reads(counts) == 3
    assert CountingProxy.writes(counts) == 1
