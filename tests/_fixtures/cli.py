"""``mcp-auth`` in this process, as the console script runs it.

    cli        cli(*args, env=None, defaults=True) -> CompletedProcess (returncode, stdout, stderr)
    CLI_ENV    the settings every command gets unless ``defaults=False``

The ``MCP_AUTH_…`` environment of a run is exactly ``CLI_ENV`` plus ``env`` (other variables in
``env``, such as ``GOOGLE_CLOUD_PROJECT``, are set too); everything is restored after the test.
A command runs its own event loop: from an async test call it as ``await asyncio.to_thread(cli, …)``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping

import pytest

CLI_ENV = {
    "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp",
    "MCP_AUTH_JWT_ISSUER": "http://127.0.0.1:8080/dev",
    "MCP_AUTH_JWT_HS256_KEY": "k" * 48,
}

Done = subprocess.CompletedProcess[str]
Cli = Callable[..., Done]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str, env: Mapping[str, str] | None = None, defaults: bool = True) -> Done:
        for name in [k for k in os.environ if k.startswith("MCP_AUTH_")]:
            monkeypatch.delenv(name)
        for name, value in {**(CLI_ENV if defaults else {}), **(env or {})}.items():
            monkeypatch.setenv(name, value)
        from mcp_auth.cli import main

        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors, as the console script would exit
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run
