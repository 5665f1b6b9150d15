"""``mcp-auth dev`` serves every credential kind the README documents, run as a developer runs it.

The runner starts in a checkout of its own (a copy of ``functions/`` in a temporary directory, so
``.dev/`` is fresh); the commands are the README's, run by a shell after ``source .dev/env``:
``mcp-auth users create``, ``mcp-auth keys create``, ``mcp-auth token mint``. The key and the
token then list the user's tools over real HTTP, and SIGTERM stops the server and the emulator.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcp_auth.devtools.emulator import free_port
from tests._fixtures.http import messages, post_mcp

pytestmark = pytest.mark.services  # the runner starts the Firestore emulator and a function server

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the console scripts installed beside this interpreter
READY = "Ctrl-C stops everything."


@dataclass
class DevServer:
    checkout: Path
    url: str
    banner: str
    process: subprocess.Popen[str]

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        """``command`` in a shell in the checkout after ``source .dev/env``, the CLI on PATH as .venv/bin is."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_AUTH_", "FIRESTORE_", "GOOGLE_"))}
        env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
        return subprocess.run(
            ["bash", "-c", f"source .dev/env && {command}"],
            cwd=self.checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def settings(self) -> dict[str, str]:
        found = {}
        for line in (self.checkout / ".dev" / "env").read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value.strip("'")
        return found


def _read_until_ready(process: subprocess.Popen[str], timeout: float) -> str:
    """The runner's output up to its ready line; the rest is read (and dropped) until it exits."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.strip() == READY:
            return "".join(seen)
    raise AssertionError(f"mcp-auth dev did not get ready (exit {process.poll()}):\n{''.join(seen)[-4000:]}")


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # what Ctrl-C or a supervisor sends; the runner stops what it started
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            raise
    return process.returncode


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "functions", checkout / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_AUTH_", "FIRESTORE_", "GOOGLE_"))}
    process = subprocess.Popen(
        [str(BIN / "mcp-auth"), "dev", "--port", str(port)],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        banner = _read_until_ready(process, timeout=180)
        yield DevServer(checkout, f"http://127.0.0.1:{port}/mcp", banner, process)
    finally:
        _stop(process)


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


def test_readme_api_key_flow_works_against_make_dev(dev_server: DevServer):
    settings = dev_server.settings()
    assert settings["MCP_AUTH_PROVIDERS"] == "jwt,api_key"
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
    printed = next(
        line.split(": ", 1)[1] for line in dev_server.banner.splitlines() if line.startswith("Bearer token:")
    )
    assert "whoami" in _tool_names(dev_server.url, token=printed.strip())
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
    assert _stop(dev_server.process) == 0
    assert not _listening(emulator), "the emulator outlived the runner"


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
