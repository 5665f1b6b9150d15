"""`mcp-auth check`: the settings against the team's toolsets, one line either way."""

from __future__ import annotations

import pytest


def test_coherent_defaults_pass_and_the_derived_scopes_are_shown(cli):
    done = cli(
        "check", env={"MCP_AUTH_DEFAULT_TOOLSETS": "basics,notes", "MCP_AUTH_DEFAULT_SCOPES": "mcp:tools,notes:read"}
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("ok: 4 toolsets (basics, github, notes, profile)")
    assert "mcp:tools notes:read notes:write profile:write" in done.stdout


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        (
            {"MCP_AUTH_DEFAULT_TOOLSETS": "notes", "MCP_AUTH_DEFAULT_SCOPES": "mcp:tools"},
            "could call none of its tools",
        ),
        ({"MCP_AUTH_DEFAULT_TOOLSETS": "notez"}, "notez, which the factory does not hold"),
        ({"MCP_AUTH_SCOPES_SUPPORTED": "mcp:admin"}, "mcp:admin, which no tool"),
        ({"MCP_AUTH_FACTORY": "nowhere:FACTORY"}, "cannot be imported"),
    ],
)
def test_a_contradiction_is_one_error_line_and_exit_status_2(cli, env, needle):
    done = cli("check", env=env)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-auth: error:") and needle in lines[0]
