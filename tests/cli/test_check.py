"""`mcp-auth check`: the settings against the team's toolsets, one line either way."""

from __future__ import annotations

import os

import pytest

from mcp_auth.cli import main

BASE_ENV = {"MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp", "MCP_AUTH_JWT_ISSUER": "http://127.0.0.1:8080/dev",
            "MCP_AUTH_JWT_HS256_KEY": "k" * 48}


@pytest.fixture
def check(monkeypatch, capsys):
    def run(**env: str) -> tuple[int, str, str]:
        for name in [k for k in os.environ if k.startswith("MCP_AUTH_")]:
            monkeypatch.delenv(name)
        for name, value in {**BASE_ENV, **env}.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(["check"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_coherent_defaults_pass_and_the_derived_scopes_are_shown(check):
    code, out, err = check(MCP_AUTH_DEFAULT_TOOLSETS="basics,notes", MCP_AUTH_DEFAULT_SCOPES="mcp:tools,notes:read")
    assert code == 0 and err == ""
    assert out.startswith("ok: 4 toolsets (basics, github, notes, profile)")
    assert "mcp:tools notes:read notes:write profile:write" in out


@pytest.mark.parametrize(("env", "needle"), [
    ({"MCP_AUTH_DEFAULT_TOOLSETS": "notes", "MCP_AUTH_DEFAULT_SCOPES": "mcp:tools"}, "could call none of its tools"),
    ({"MCP_AUTH_DEFAULT_TOOLSETS": "notez"}, "notez, which the factory does not hold"),
    ({"MCP_AUTH_SCOPES_SUPPORTED": "mcp:admin"}, "mcp:admin, which no tool"),
    ({"MCP_AUTH_FACTORY": "nowhere:FACTORY"}, "cannot be imported"),
])
def test_a_contradiction_is_one_error_line_and_exit_status_2(check, env, needle):
    code, out, err = check(**env)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-auth: error:") and needle in lines[0]
