"""`mcp-auth stdio --user U`: the user's own server over stdio, from the same Firestore data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from mcp_auth.store.users import UserRecord

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = str(ROOT / "functions")  # where MCP_AUTH_FACTORY's default, factory:FACTORY, is importable


def _env(function_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **function_env, "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp", "PYTHONPATH": FUNCTIONS}


def _server(function_env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_auth.cli", "stdio", *args],
        env=_env(function_env),
        cwd=str(ROOT),
    )


async def test_stdio_serves_the_named_users_own_tools_and_identity(
    function_env: dict[str, str], make_user: Callable[..., Awaitable[UserRecord]]
) -> None:
    user = await make_user(toolsets=("basics",))
    async with Client(_server(function_env, "--user", user.uid), raise_exceptions=True) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"whoami", "echo"} <= names
        result = await client.call_tool("whoami", {})
    assert user.uid in result.content[0].text


async def test_stdio_gives_a_user_without_toolsets_no_tools(
    function_env: dict[str, str], make_user: Callable[..., Awaitable[UserRecord]]
) -> None:
    user = await make_user(toolsets=())
    async with Client(_server(function_env, "--user", user.uid), raise_exceptions=True) as client:
        assert (await client.list_tools()).tools == []


def test_stdio_refuses_to_run_without_an_explicit_user(function_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_auth.cli", "stdio"],
        env=_env(function_env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--user" in result.stderr
    assert result.stdout == ""


def test_stdio_refuses_an_unknown_user_with_a_message_on_stderr(function_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_auth.cli", "stdio", "--user", "nobody-at-all"],
        env=_env(function_env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "nobody-at-all" in result.stderr


async def test_stdio_needs_no_http_settings_only_the_data_it_reads(
    function_env: dict[str, str], make_user: Callable[..., Awaitable[UserRecord]]
) -> None:
    """A desktop client's config names the command, the user and where Firestore is; nothing about HTTP auth."""
    user = await make_user(toolsets=("basics",))
    data_only = {k: v for k, v in function_env.items() if not k.startswith("MCP_AUTH_")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUTH_")} | data_only | {"PYTHONPATH": FUNCTIONS}
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_auth.cli", "stdio", "--user", user.uid],
        env=env,
        cwd=str(ROOT),
    )
    async with Client(server, raise_exceptions=True) as client:
        result = await client.call_tool("whoami", {})
    assert user.uid in result.content[0].text


async def test_stdout_carries_json_rpc_messages_and_nothing_else(
    function_env: dict[str, str], make_user: Callable[..., Awaitable[UserRecord]]
) -> None:
    """A client reading the raw stream through a whole session and the process's exit finds only messages."""
    import json

    user = await make_user(toolsets=("basics",))
    with subprocess.Popen(
        [sys.executable, "-m", "mcp_auth.cli", "stdio", "--user", user.uid],
        env=_env(function_env),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as process:
        assert process.stdin is not None and process.stdout is not None

        def send(message: dict) -> None:
            process.stdin.write((json.dumps(message) + "\n").encode())
            process.stdin.flush()

        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            }
        )
        first = json.loads(process.stdout.readline())
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        second = json.loads(process.stdout.readline())
        process.stdin.close()  # the client goes away: the server ends
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 0
    assert (first["id"], second["id"]) == (1, 2) and "tools" in second["result"]
    assert rest == b""  # not even an empty line after the last message
