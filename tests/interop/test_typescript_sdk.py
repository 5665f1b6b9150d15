"""TypeScript SDK clients v1 (`@modelcontextprotocol/sdk`) and v2 (`@modelcontextprotocol/client`) with a token."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop import node


@pytest.mark.parametrize("generation", ["v1", "v2"])
def test_typescript_sdk_client_lists_calls_reads_and_gets_prompts(
    generation: str, node_bin: Path, fixture_endpoint: tuple[str, str]
) -> None:
    url, token = fixture_endpoint
    result = subprocess.run(
        [str(node_bin), str(node.PROJECT_DIR / "ts_client.mjs"), generation, url, token],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=node.PROJECT_DIR,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert "test_simple_text" in answer["tools"]
    assert answer["call"] == "This is a simple text response for testing."
    assert answer["resource"] == "This is the content of the static text resource."
    assert answer["prompt"] == "Prompt with arguments: arg1='a', arg2='b'"
