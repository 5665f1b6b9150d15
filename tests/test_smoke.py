"""`mcp-auth smoke`: passes on a healthy function; names the failing check on a broken one.

The function runs as deployed (functions-framework in a subprocess); the authorization server
it advertises is a metadata document served on loopback.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mcp_auth.devtools.emulator import free_port

SMOKE = Path(__file__).resolve().parents[1] / "lib" / "mcp_auth" / "smoke.py"


@pytest.fixture(scope="module")
def authorization_server() -> Iterator[str]:
    """An authorization server's RFC 8414 metadata, at its well-known path, on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer = f"http://127.0.0.1:{self.server.server_port}"
            if self.path != "/.well-known/oauth-authorization-server":
                self.send_error(404)
                return
            body = json.dumps({"issuer": issuer, "token_endpoint": f"{issuer}/token"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def healthy(function_env, authorization_server, tmp_path_factory):
    from tests._fixtures.function_server import launch_function

    running = launch_function(
        {**function_env, "MCP_AUTH_AUTHORIZATION_SERVERS": authorization_server},
        tmp_path_factory.mktemp("smoke"),
    )
    yield running
    running.stop()


def _verdicts(stdout: str) -> dict[str, str]:
    """step -> status, from the printed lines."""
    return {line.split()[1]: line.split()[0] for line in stdout.splitlines() if line.strip()}


async def test_a_healthy_function_passes_every_check(cli, healthy, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=healthy.url)
    done = await asyncio.to_thread(cli, "smoke", healthy.url, "--token", token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done.stdout) == {
        "metadata": "ok",
        "authorization-server": "ok",
        "challenge": "ok",
        "healthz": "ok",
        "handshake": "ok",
        "tools": "ok",
        "call": "ok",
    }
    assert "tools/call whoami" in done.stdout  # the tool annotated readOnlyHint
    print(done.stdout)


async def test_a_named_tool_is_called_with_the_arguments_given(cli, healthy, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=healthy.url)
    args = ("smoke", healthy.url, "--token", token, "--tool", "echo", "--arguments", '{"text": "hi"}')
    done = await asyncio.to_thread(cli, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tools/call echo" in done.stdout
    missing = await asyncio.to_thread(cli, "smoke", healthy.url, "--token", token, "--tool", "nope")
    assert missing.returncode == 2
    assert "no tool 'nope' in tools/list" in missing.stdout


def test_without_a_token_the_public_checks_pass_and_tools_are_skipped(cli, healthy):
    done = cli("smoke", healthy.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done.stdout)["tools"] == "skip"
    assert "FAIL" not in done.stdout


def test_a_url_nothing_answers_fails_at_metadata(cli):
    done = cli("smoke", f"http://127.0.0.1:{free_port()}/mcp")
    assert done.returncode == 2
    assert _verdicts(done.stdout)["metadata"] == "FAIL"
    assert "got no answer" in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert "metadata" in done.stderr


def test_a_wrong_path_fails_at_metadata_and_challenge(cli, healthy):
    done = cli("smoke", f"{healthy.base}/wrong")
    assert done.returncode == 2
    verdicts = _verdicts(done.stdout)
    assert verdicts["metadata"] == verdicts["challenge"] == "FAIL"
    assert verdicts["healthz"] == "ok"
    assert "MCP_AUTH_RESOURCE_URL" in done.stdout


def test_a_function_whose_resource_url_is_wrong_fails_at_metadata(cli, start_function, authorization_server):
    port = free_port()
    broken = start_function(
        PORT=str(port),
        MCP_AUTH_RESOURCE_URL=f"http://localhost:{port}/mcp",
        MCP_AUTH_ALLOWED_HOSTS=f"127.0.0.1:{port},localhost:{port}",
        MCP_AUTH_AUTHORIZATION_SERVERS=authorization_server,
    )
    done = cli("smoke", broken.url)
    assert done.returncode == 2
    assert _verdicts(done.stdout)["metadata"] == "FAIL"
    assert f"names resource 'http://localhost:{port}/mcp'" in done.stdout
    assert "set MCP_AUTH_RESOURCE_URL" in done.stdout


def test_an_authorization_server_that_serves_no_metadata_fails(cli, start_function):
    advertising = start_function(MCP_AUTH_AUTHORIZATION_SERVERS="https://issuer.test/")  # which does not exist
    done = cli("smoke", advertising.url, "--timeout", "5")
    assert done.returncode == 2
    verdicts = _verdicts(done.stdout)
    assert verdicts["metadata"] == "ok" and verdicts["authorization-server"] == "FAIL"
    assert "issuer.test" in done.stdout


def test_a_function_of_minted_tokens_advertises_no_authorization_server_and_the_check_says_so(cli, function_server):
    done = cli("smoke", function_server.url, "--timeout", "5")  # HS256 tokens: nowhere to sign in
    assert done.returncode == 2
    assert _verdicts(done.stdout)["authorization-server"] == "FAIL"
    assert "advertises no authorization server" in done.stdout


def test_a_skipped_check_is_reported_and_does_not_fail(cli, function_server):
    done = cli("smoke", function_server.url, "--skip", "authorization-server")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done.stdout)["authorization-server"] == "skip"


async def test_a_bad_token_fails_with_the_servers_reason(cli, healthy, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience="https://someone-else.example/mcp")
    done = await asyncio.to_thread(cli, "smoke", healthy.url, "--token", token)
    assert done.returncode == 2
    verdicts = _verdicts(done.stdout)
    assert verdicts["handshake"] == verdicts["tools"] == "FAIL"
    assert verdicts["call"] == "skip"
    assert "the token is refused (401" in done.stdout


async def test_a_user_with_no_tools_fails_at_tools(cli, healthy, make_user, mint):
    user = await make_user(toolsets=())
    token = mint(user.uid, audience=healthy.url)
    done = await asyncio.to_thread(cli, "smoke", healthy.url, "--token", token)
    assert done.returncode == 2
    verdicts = _verdicts(done.stdout)
    assert verdicts["tools"] == "FAIL" and verdicts["handshake"] == "ok"
    assert "tools/list is empty" in done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("ftp://example.com/mcp",), "not an http(s) URL"),
        (("not a url",), "not an http(s) URL"),
        (("https://example.com/mcp?x=1",), "query or fragment"),
        (("https://example.com/mcp", "--arguments", "[1]"), "--arguments takes a JSON object"),
        (("https://example.com/mcp", "--arguments", "{"), "--arguments takes a JSON object"),
        (("https://example.com/mcp", "--token", " "), "--token is empty"),
        (("https://example.com/mcp", "--timeout", "0"), "--timeout must be between"),
    ],
)
def test_bad_input_is_one_clear_line_and_status_2(cli, args, needle):
    done = cli("smoke", *args)
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_module_imports_only_the_standard_library():
    tree = ast.parse(SMOKE.read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= sys.stdlib_module_names | {"__future__"}, imported - sys.stdlib_module_names


def test_the_file_runs_alone_without_site_packages(healthy):
    # As the deploy build runs it: the image's python3, none of the framework's dependencies.
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(SMOKE), healthy.url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done.stdout)["challenge"] == "ok"
    failing = subprocess.run(
        [sys.executable, "-I", "-S", str(SMOKE), f"{healthy.base}/wrong"], capture_output=True, text=True, timeout=120
    )
    assert failing.returncode == 1
    assert "FAIL" in failing.stdout
