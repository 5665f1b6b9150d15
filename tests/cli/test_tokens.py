"""`mcp-auth token mint`: tokens the local server accepts, and one-line errors for bad input."""

from __future__ import annotations

import jwt
import pytest

from tests._fixtures.cli import CLI_ENV


def test_minted_token_carries_issuer_audience_subject_and_scopes(cli):
    done = cli("token", "mint", "--user", "alice", "--scopes", "b,a,a", "--ttl", "120")
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(
        done.stdout.strip(),
        CLI_ENV["MCP_AUTH_JWT_HS256_KEY"],
        algorithms=["HS256"],
        audience=CLI_ENV["MCP_AUTH_RESOURCE_URL"],
    )
    assert claims["sub"] == "alice" and claims["iss"] == CLI_ENV["MCP_AUTH_JWT_ISSUER"]
    assert claims["scope"] == "a b"
    assert claims["exp"] - claims["iat"] == 120


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("token", "mint", "--user", "../../etc/passwd", "--scopes", "x"), "user id"),
        (("token", "mint", "--user", "a" * 300, "--scopes", "x"), "user id"),
        (("token", "mint", "--user", "alice", "--scopes", 'bad"scope'), "not a valid scope"),
        (("token", "mint", "--user", "alice", "--ttl", "-1"), "--ttl must be between"),
        (("token", "mint", "--user", "alice", "--ttl", "soon"), "--ttl takes a whole number"),
        (("token", "mint", "--user", "alice", "--ttl", "9" * 30), "--ttl must be between"),
    ],
)
def test_bad_input_is_one_clear_line_and_status_2(cli, args, needle):
    done = cli(*args)
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_settings_name_what_to_set(cli):
    done = cli("token", "mint", "--user", "alice", "--scopes", "x", defaults=False)
    assert done.returncode == 2
    assert "MCP_AUTH_RESOURCE_URL is required" in done.stderr
