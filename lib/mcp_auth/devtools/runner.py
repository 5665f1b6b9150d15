"""``mcp-auth dev``: emulator + seeded user + functions-framework, stopped together by Ctrl-C.

The local server accepts every credential kind a deployment serves. OAuth: the built-in
authorization server, whose sign-in step is a local page that asks for a user id (in place of the
company's OpenID provider), signs its access tokens with a development EC key; a client given the
URL alone goes through discovery, registration, sign-in, consent and the token exchange. JWTs signed
with a development key, and API keys hashed with a development pepper. The keys and the pepper are
random per checkout and kept in ``.dev/`` (so tokens and keys survive restarts); ``.dev/env`` exports
them with the rest of the settings, so ``mcp-auth token mint`` and ``mcp-auth keys create`` work
against the server. These settings are for local work only: the server refuses them on Cloud Run.

Connected accounts run too: a local stand-in for GitHub (its OAuth endpoints and the REST endpoints of
the example toolset) and for Secret Manager (the GitHub client secret and the vault's and links' keys,
generated for each run) are served on loopback (``mcp_auth.devtools.dev_connections``), the function is
configured with GitHub as a connected-account provider, and the seeded user has the github toolset.
The runner itself, like the stand-ins, refuses to run on Cloud Run.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess  # nosec B404 - development tool that starts the local function
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import IO, cast

from mcp_auth.devtools.dev_connections import DevConnections, serve_dev_connections
from mcp_auth.devtools.emulator import EmulatorError, FirestoreEmulator
from mcp_auth.devtools.watchdog import Watchdog
from mcp_auth.errors import ConfigError

STATE_DIR = Path(".dev")
DEV_PROJECT = "demo-mcp-auth"


def dev_environment(*, port: int, emulator_host: str, key: str, pepper: str, signing_key: str) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {
        "GOOGLE_CLOUD_PROJECT": DEV_PROJECT,
        "FIRESTORE_EMULATOR_HOST": emulator_host,
        "MCP_AUTH_RESOURCE_URL": f"{base}/mcp",
        # the built-in authorization server first: it takes the tokens it issued, the jwt provider the others
        "MCP_AUTH_PROVIDERS": "oauth,jwt,api_key",
        "MCP_AUTH_OAUTH_DEV_SIGN_IN": "true",
        "MCP_AUTH_OAUTH_SIGNING_KEY": signing_key,
        "MCP_AUTH_JWT_ISSUER": f"{base}/dev-issuer",
        "MCP_AUTH_JWT_HS256_KEY": key,
        "MCP_AUTH_API_KEY_PEPPER": pepper,
        "MCP_AUTH_FIRST_LOGIN": "reject",
        "PYTHONPATH": "functions",  # the command line finds the factory (MCP_AUTH_FACTORY) as the function does
    }


def _dev_secret(name: str) -> str:
    """A per-checkout development secret (``hs256.key``: the JWT signing key; ``api-key-pepper``: the API-key
    pepper; ``oauth-signing-key.pem``: the authorization server's EC P-256 key), made once and kept in .dev/
    so tokens and keys survive restarts."""
    path = STATE_DIR / name
    if path.exists():
        return path.read_text().strip()
    STATE_DIR.mkdir(exist_ok=True)
    secret = _ec_key() if name.endswith(".pem") else secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _ec_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode().strip()


def _client_config(url: str, token: str, user: str) -> str:
    def vscode(server: dict[str, object]) -> str:
        return "    " + json.dumps({"servers": {"mcp-auth-dev": server}}, indent=2).replace("\n", "\n    ")

    bearer = f"Authorization: Bearer {token}"
    return "\n".join(
        [
            f"MCP URL:      {url}",
            "",
            "Sign in with OAuth, as on a deployment: give a client the URL alone. It finds the authorization",
            "server, registers, and opens the local sign-in page in a browser: enter a user id",
            f"({user}, or any user with a record), then allow access.",
            "",
            "  Claude Code:",
            f"    claude mcp add --transport http mcp-auth-dev {url}",
            "  VS Code (.vscode/mcp.json):",
            vscode({"type": "http", "url": url}),
            "",
            f"Or send a bearer token: a JWT signed with the development key, for {user}, valid for a week.",
            "",
            f"Bearer token: {token}",
            "",
            "  Claude Code:",
            f'    claude mcp add --transport http mcp-auth-dev {url} --header "{bearer}"',
            "  VS Code (.vscode/mcp.json):",
            vscode({"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}),
            "  MCP Inspector:",
            f"    npx @modelcontextprotocol/inspector --cli {url} --transport http "
            f'--header "{bearer}" --method tools/list',
            "",
            "More tokens:  source .dev/env && .venv/bin/mcp-auth token mint --user <id>",
            "API keys:     source .dev/env && .venv/bin/mcp-auth keys create --user <id> --name <name>",
            "              (sent as X-API-Key: <key>, or Authorization: Bearer <key>)",
        ]
    )


def _connections_help(user: str, github_url: str) -> str:
    return "\n".join(
        [
            f"Connected accounts: GitHub is a local stand-in at {github_url} (no github.com account needed).",
            f"{user} has the github toolset: call list_my_repositories. A client with URL elicitation opens the",
            "connect page (another gets its link in the tool's answer): press Continue to GitHub, then",
            "Authorize on the stand-in's page; the call answers with the stand-in's repositories.",
            f"Connections:  source .dev/env && .venv/bin/mcp-auth connections list --user {user}",
        ]
    )


class HeldOutput:
    """The function's output (stdout and stderr), held back until the banner is out, then passed through as it
    comes: the start-up's log records follow the banner instead of burying it. At most ``limit`` lines are held
    (the latest)."""

    def __init__(self, stream: IO[bytes], *, limit: int = 1000) -> None:
        self._held: deque[bytes] | None = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._stream = stream
        threading.Thread(target=self._pump, name="function-output", daemon=True).start()

    def _pump(self) -> None:
        with self._stream:
            for line in self._stream:
                with self._lock:
                    if self._held is not None:
                        self._held.append(line)
                        continue
                _write(line)

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, None
            for line in held or ():
                _write(line)


def _write(line: bytes) -> None:
    try:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    except (OSError, ValueError):  # the terminal went away: the function's output has nowhere to go
        pass


def _wait_http(url: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"The function server exited with code {process.returncode}; see its output above.")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback  # nosec B310 - http URL to the loopback function only
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise EmulatorError(f"The function server did not answer on {url} within {timeout:.0f} s.")


def port_taken(port: int, host: str = "127.0.0.1") -> str | None:
    """Why the function could not listen on ``host:port`` (None when it can): tried before anything starts.

    The probe binds as the server will (SO_REUSEADDR, so a port left in TIME_WAIT by an earlier run counts
    as free, as it does for the server) and lets go at once."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def run_dev(*, port: int, source: str, user: str) -> int:
    if os.environ.get("K_SERVICE"):
        print(
            "mcp-auth dev: error: mcp-auth dev and its stand-ins are for local development only and refuse to run "
            "on Cloud Run (K_SERVICE is set). Nothing was started.",
            file=sys.stderr,
        )
        return 2
    if not Path(source).is_file():
        print(f"mcp-auth dev: error: {source} not found; run from the repository root.", file=sys.stderr)
        return 2
    taken = port_taken(port)
    if taken is not None:
        other = 8081 if port != 8081 else 8082
        print(
            f"mcp-auth dev: error: cannot listen on 127.0.0.1:{port} ({taken}): another server, or an earlier "
            f"'make dev', is using it. Choose another port: make dev PORT={other} (or mcp-auth dev --port {other}). "
            "Nothing was started.",
            file=sys.stderr,
        )
        return 2
    STATE_DIR.mkdir(exist_ok=True)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # stop everything we started, however we are stopped
        signal.signal(signum, _interrupt)
    # Stops the emulator's and the server's process groups if this process dies without doing so (SIGKILL).
    watchdog = Watchdog().start()
    emulator = FirestoreEmulator(log_path=STATE_DIR / "firestore-emulator.log", watchdog=watchdog)
    server: subprocess.Popen[bytes] | None = None
    connections: DevConnections | None = None
    output: HeldOutput | None = None
    try:
        print(f"Starting the Firestore emulator (log: {STATE_DIR}/firestore-emulator.log) ...", flush=True)
        emulator.start()
        connections = serve_dev_connections(project=DEV_PROJECT, function_url=f"http://127.0.0.1:{port}")
        env = dev_environment(
            port=port,
            emulator_host=emulator.host,
            key=_dev_secret("hs256.key"),
            pepper=_dev_secret("api-key-pepper"),
            signing_key=_dev_secret("oauth-signing-key.pem"),
        )
        env.update(connections.environment)
        (STATE_DIR / "env").write_text("".join(f"export {k}='{v}'\n" for k, v in env.items()))
        (STATE_DIR / "env").chmod(0o600)
        process_env = {**os.environ, **env}
        token = _seed(user, process_env)
        server = subprocess.Popen(  # noqa: S603 - fixed argv  # nosec B603 - fixed argv of functions-framework, no shell
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--source",
                source,
                "--target",
                "mcp",
                "--asgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=process_env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        watchdog.guard(server.pid)
        output = HeldOutput(cast("IO[bytes]", server.stdout))  # stdout=PIPE: never None
        _wait_http(f"http://127.0.0.1:{port}/healthz", 30, server)
        banner = _client_config(env["MCP_AUTH_RESOURCE_URL"], token, user)
        banner += "\n\n" + _connections_help(user, connections.server.url)
        print("\n" + banner + "\n\nCtrl-C stops everything.", flush=True)
        output.release()
        return server.wait()
    except KeyboardInterrupt:
        return 0
    except (EmulatorError, ConfigError) as exc:
        if output is not None:
            output.release()  # what the function said before it failed: the message points at it
        print(f"mcp-auth dev: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if connections is not None:
            connections.stop()
        emulator.stop()
        watchdog.close()
        print("Stopped the server, the stand-ins and the emulator.", flush=True)


def _seed(user: str, env: dict[str, str]) -> str:
    """The development user created (unless it exists) and a token for it, by ``mcp_auth.devtools.seed`` in a
    process of its own: the Firestore client finds the emulator through that process's environment."""
    done = subprocess.run(  # noqa: S603 - fixed argv  # nosec B603 - this interpreter, a fixed module
        [sys.executable, "-m", "mcp_auth.devtools.seed", user],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise EmulatorError(f"Could not seed the development user: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
