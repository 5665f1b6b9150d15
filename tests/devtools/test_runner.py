"""``mcp-auth dev`` serves every credential kind the README documents, run as a developer runs it.

The runner starts in a checkout of its own (a copy of ``functions/`` in a temporary directory, so
``.dev/`` is fresh; ``tests/_fixtures/dev_server.py``); the commands are the README's, run by a shell
after ``source .dev/env``: ``mcp-auth users create``, ``mcp-auth keys create``, ``mcp-auth token
mint``. The key and the token then list the user's tools over real HTTP, and SIGTERM stops the server
and the emulator. A taken port stops the run before anything starts; a runner killed with SIGKILL
leaves nothing running behind it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from pathlib import Path

import pytest

from mcp_auth.devtools.emulator import free_port
from tests._fixtures.dev_server import (
    DevServer,
    RunnerOutput,
    kill_groups,
    make_checkout,
    processes_in,
    start_runner,
    stop_runner,
)
from tests._fixtures.http import messages, post_mcp

pytestmark = pytest.mark.services  # the runner starts the Firestore emulator and a function server


def _tool_names(url: str, **credentials: str) -> set[str]:
    answer = post_mcp(url, "tools/list", {}, **credentials)
    assert answer.status_code == 200, answer.text
    [reply] = messages(answer)
    return {tool["name"] for tool in reply["result"]["tools"]}


def _listening(host: str) -> bool:
    address, _, port = host.rpartition(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, int(port))) == 0


def _printed_token(banner: str) -> str:
    return next(line.split(": ", 1)[1] for line in banner.splitlines() if line.startswith("Bearer token:")).strip()


def test_readme_api_key_flow_works_against_make_dev(dev_server: DevServer):
    settings = dev_server.settings()
    assert settings["MCP_AUTH_PROVIDERS"] == "oauth,jwt,api_key"
    pepper = (dev_server.checkout / ".dev" / "api-key-pepper").read_text().strip()
    assert settings["MCP_AUTH_API_KEY_PEPPER"] == pepper and len(pepper) >= 32
    assert stat.S_IMODE((dev_server.checkout / ".dev" / "api-key-pepper").stat().st_mode) == 0o600
    assert "mcp-auth keys create" in dev_server.banner

    created = dev_server.shell("mcp-auth users create alice --toolsets basics --scopes mcp:tools")
    assert created.returncode == 0, created.stderr
    done = dev_server.shell("mcp-auth keys create --user alice --name laptop --ttl-days 90")
    assert done.returncode == 0, done.stderr
    output, _, note = done.stdout.rpartition("}")
    record = json.loads(output + "}")
    assert note.strip() == "# Store the key now: it is not shown again."
    assert record["user"] == "alice" and record["name"] == "laptop" and record["scopes"] == ["mcp:tools"]
    key = record["key"]
    assert key.startswith(f"mak_{record['id']}_")

    # the key in either header lists alice's tools; a key that is not hers is refused
    tools = _tool_names(dev_server.url, headers={"X-API-Key": key})
    assert "whoami" in tools
    assert _tool_names(dev_server.url, token=key) == tools
    refused = post_mcp(dev_server.url, "tools/list", {}, headers={"X-API-Key": key[:-4] + "AAAA"})
    assert refused.status_code == 401

    who = post_mcp(dev_server.url, "tools/call", {"name": "whoami", "arguments": {}}, headers={"X-API-Key": key})
    [reply] = messages(who)
    assert reply["result"]["structuredContent"]["user_id"] == "alice"
    assert reply["result"]["structuredContent"]["auth_method"] == "api_key"

    # JWTs keep working beside keys: the printed token, and one minted with the README's command
    assert "whoami" in _tool_names(dev_server.url, token=_printed_token(dev_server.banner))
    minted = dev_server.shell("mcp-auth token mint --user alice --ttl 3600")
    assert minted.returncode == 0, minted.stderr
    assert _tool_names(dev_server.url, token=minted.stdout.strip()) == tools

    listed = dev_server.shell("mcp-auth keys list --user alice")
    assert listed.returncode == 0, listed.stderr
    assert [k["id"] for k in json.loads(listed.stdout)] == [record["id"]]
    revoked = dev_server.shell(f"mcp-auth keys revoke {record['id']}")
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked {record['id']}"), revoked.stderr

    emulator = settings["FIRESTORE_EMULATOR_HOST"]
    assert _listening(emulator)
    assert stop_runner(dev_server.process) == 0
    assert not _listening(emulator), "the emulator outlived the runner"


def _log_lines(text: str) -> list[str]:
    """The lines of ``text`` that are structured log records (a JSON object with a message)."""
    found = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(line)
    return found


def test_the_banner_is_for_a_person_and_the_layout_is_recorded_before_serving(dev_server: DevServer):
    """Up to its ready line the output is the banner alone: no log record of the function's start-up
    (one said that MCP_AUTH_REQUEST_STATE_KEY_SECRET is not set). The Firestore layout is recorded
    before the function starts (what `mcp-auth migrate` does), so its first request has nothing to warn about."""
    assert _log_lines(dev_server.banner) == []
    assert dev_server.banner.startswith("Starting the Firestore emulator")

    assert "whoami" in _tool_names(dev_server.url, token=_printed_token(dev_server.banner))
    logged = dev_server.output.until(lambda line: '"POST /mcp 200"' in line, timeout=30)
    assert "mcp-auth migrate" not in logged
    layout = dev_server.shell("mcp-auth migrate --dry-run")
    assert layout.returncode == 0, layout.stderr
    assert "up to date: nothing to do" in layout.stdout


def test_a_taken_port_stops_the_run_before_anything_starts(tmp_path: Path):
    checkout = make_checkout(tmp_path / "checkout")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_runner(checkout, "--port", str(port))
        try:
            output = RunnerOutput(process).until_exit(timeout=60)
        finally:
            stop_runner(process)
    assert process.returncode == 2, output
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "make dev PORT=" in output and "--port" in output  # which setting picks another port
    assert "Firestore emulator" not in output and "Bearer token" not in output
    assert not (checkout / ".dev").exists()
    left = processes_in(checkout)
    kill_groups(list(left))
    assert left == {}


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_port_out_of_range_is_refused_by_the_command_line(tmp_path: Path, port: str):
    process = start_runner(make_checkout(tmp_path / "checkout"), "--port", port)
    output = RunnerOutput(process).until_exit(timeout=60)
    assert process.returncode == 2
    assert "--port" in output and port in output


def test_a_runner_killed_with_sigkill_leaves_no_emulator_or_function_running(tmp_path: Path):
    checkout = make_checkout(tmp_path / "checkout")
    port = free_port()
    process = start_runner(checkout, "--port", str(port))
    try:
        RunnerOutput(process).until_ready(timeout=180)
        started = processes_in(checkout)
        assert any("java" in command for command in started.values()), started  # the emulator itself
        assert any("functions_framework" in command for command in started.values()), started
        os.kill(process.pid, signal.SIGKILL)  # no cleanup runs: an IDE's stop button, or TERM then KILL
        process.wait(timeout=10)
        left = processes_in(checkout)
        deadline = time.monotonic() + 60  # the watchdog gives each group a grace period after SIGTERM
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = processes_in(checkout)
    finally:
        stop_runner(process)
    kill_groups(list(left))
    assert left == {}, "these outlived the runner"


def test_the_pepper_and_signing_key_survive_a_restart_and_differ_per_checkout(tmp_path, monkeypatch):
    """Made once per checkout: a second start reads them back (keys and tokens stay valid)."""
    from mcp_auth.devtools import runner

    monkeypatch.chdir(tmp_path)
    pepper = runner._dev_secret("api-key-pepper")
    assert runner._dev_secret("api-key-pepper") == pepper
    assert runner._dev_secret("hs256.key") != pepper
    assert (tmp_path / ".dev" / "api-key-pepper").read_text() == pepper
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert runner._dev_secret("api-key-pepper") != pepper
