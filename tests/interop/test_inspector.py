"""The MCP Inspector CLI against the server, with a bearer token, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.interop import node


def _inspector(node_bin: Path, url: str, token: str, tmp_path: Path, *args: str) -> dict:
    result = subprocess.run(
        [
            str(node_bin),
            str(node.INSPECTOR),
            "--cli",
            url,
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {token}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "MCP_CATALOG_PATH": str(tmp_path / "catalog.json"), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def inspect(node_bin: Path, fixture_endpoint: tuple[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    url, token = fixture_endpoint
    return lambda *args: _inspector(node_bin, url, token, tmp_path, *args)


def test_inspector_lists_tools_and_calls_one(inspect) -> None:  # type: ignore[no-untyped-def]
    names = {tool["name"] for tool in inspect("--method", "tools/list")["tools"]}
    assert "test_simple_text" in names
    result = inspect("--method", "tools/call", "--tool-name", "test_simple_text")
    assert result["content"][0]["text"] == "This is a simple text response for testing."


def test_inspector_reads_a_resource_and_gets_a_prompt(inspect) -> None:  # type: ignore[no-untyped-def]
    resource = inspect("--method", "resources/read", "--uri", "test://static-text")
    assert resource["contents"][0]["text"] == "This is the content of the static text resource."
    prompt = inspect(
        "--method", "prompts/get", "--prompt-name", "test_prompt_with_arguments", "--prompt-args", "arg1=a", "arg2=b"
    )
    assert prompt["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='a', arg2='b'"
