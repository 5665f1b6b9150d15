"""`mcp-auth token mint`: tokens the local server accepts, and one-line errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt
import pytest

KEY = "k" * 48
ENV = {
    "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp",
    "MCP_AUTH_JWT_ISSUER": "http://127.0.0.1:8080/dev-issuer",
    "MCP_AUTH_JWT_HS256_KEY": KEY,
}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUTH_")}
    return subprocess.run([sys.executable, "-m", "mcp_auth.cli", *args], env={**clean, **(ENV if env is None else env)},
                          capture_output=True, text=True, timeout=60)


def test_minted_token_carries_issuer_audience_subject_and_scopes():
    done = _cli("token", "mint", "--user", "alice", "--scopes", "b,a,a", "--ttl", "120")
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), KEY, algorithms=["HS256"], audience=ENV["MCP_AUTH_RESOURCE_URL"])
    assert claims["sub"] == "alice" and claims["iss"] == ENV["MCP_AUTH_JWT_ISSUER"]
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
def test_bad_input_is_one_clear_line_and_status_2(args, needle):
    done = _cli(*args)
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_settings_name_what_to_set():
    done = _cli("token", "mint", "--user", "alice", "--scopes", "x", env={})
    assert done.returncode == 2
    assert "MCP_AUTH_RESOURCE_URL is required" in done.stderr
