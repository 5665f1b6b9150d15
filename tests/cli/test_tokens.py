"""`mcp-auth token mint`: tokens the local server accepts, and one-line errors for bad input."""

from __future__ import annotations

import asyncio
import os
import uuid

import jwt
import pytest

from tests._fixtures.cli import CLI_ENV
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.function_server import ISSUER
from tests._fixtures.http import post_mcp
from tests._fixtures.secret_manager import SecretManagerAdmin


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


# -- a deployed setup: the signing key from Secret Manager -----------------------------------------


@pytest.fixture
def hs_secret(drongo_endpoint):
    """An HS256 key in a secret of the test project on the Secret Manager emulator: (name, key)."""
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    name, key = f"jwt-hs-{uuid.uuid4().hex[:10]}", os.urandom(48)
    admin.create_secret(name, key)
    yield name, key, admin
    admin.close()


@pytest.fixture
def deployed(start_function, hs_secret, drongo_endpoint):
    """The function verifying with that secret only (no development key)."""
    return start_function(
        MCP_AUTH_JWT_HS256_KEY=None,
        MCP_AUTH_JWT_HS_SECRET=hs_secret[0],
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
    )


def _operator_env(server, drongo_endpoint, function_env, **extra):
    """What an operator sets to mint for a deployment: its URL, issuer, project, and no key."""
    return {
        "MCP_AUTH_RESOURCE_URL": server.url,
        "MCP_AUTH_JWT_ISSUER": ISSUER,
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": drongo_endpoint,
        "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
        "FIRESTORE_EMULATOR_HOST": function_env["FIRESTORE_EMULATOR_HOST"],
        **extra,
    }


async def test_a_token_minted_with_the_secret_authenticates_a_service_principal_at_the_function(
    cli, deployed, hs_secret, drongo_endpoint, function_env, make_user
):
    service = await make_user(prefix="svc-reporting")
    env = _operator_env(deployed, drongo_endpoint, function_env)
    done = await asyncio.to_thread(
        cli, "token", "mint", "--user", service.uid, "--secret", hs_secret[0], "--ttl", "600", env=env, defaults=False
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    claims = jwt.decode(token, hs_secret[1], algorithms=["HS256"], audience=deployed.url)
    assert claims["sub"] == service.uid and claims["iss"] == ISSUER and claims["scope"] == "mcp:tools"
    assert claims["exp"] - claims["iat"] == 600
    answer = await asyncio.to_thread(
        post_mcp, deployed.url, "tools/call", {"name": "whoami", "arguments": {}}, token=token
    )
    assert answer.status_code == 200, answer.text
    assert f'"user_id":"{service.uid}"' in answer.text.replace(" ", "").replace("\\", "")


async def test_the_configured_secret_setting_is_used_without_the_option_and_follows_rotation(
    cli, deployed, hs_secret, drongo_endpoint, function_env, make_user
):
    name, _, admin = hs_secret
    new = os.urandom(48)
    admin.add_version(name, new)  # the newest version signs; the function accepts the two newest
    user = await make_user()
    env = _operator_env(deployed, drongo_endpoint, function_env, MCP_AUTH_JWT_HS_SECRET=name)
    done = await asyncio.to_thread(
        cli, "token", "mint", "--user", user.uid, "--scopes", "mcp:tools", env=env, defaults=False
    )
    assert done.returncode == 0, done.stderr
    jwt.decode(done.stdout.strip(), new, algorithms=["HS256"], audience=deployed.url)
    answer = await asyncio.to_thread(post_mcp, deployed.url, token=done.stdout.strip())
    assert answer.status_code == 200


def test_a_token_signed_with_another_key_is_refused_by_that_function(cli, deployed):
    # The development key of CLI_ENV is not the deployment's key: the function says 401.
    done = cli(
        "token",
        "mint",
        "--user",
        "alice",
        "--scopes",
        "mcp:tools",
        env={"MCP_AUTH_RESOURCE_URL": deployed.url, "MCP_AUTH_JWT_ISSUER": ISSUER},
    )
    assert done.returncode == 0, done.stderr
    assert post_mcp(deployed.url, token=done.stdout.strip()).status_code == 401


@pytest.mark.parametrize(
    ("secret", "needle"),
    [
        ("absent", "does not exist"),
        ("short", "does not hold an HS256 key"),
        ("pem", "does not hold an HS256 key"),
        ("Bad Name!", "secret"),
        ("", "--secret is empty"),
    ],
)
def test_an_unusable_secret_is_one_clear_line(cli, drongo_endpoint, secret, needle):
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    name = {"absent": f"absent-{uuid.uuid4().hex[:8]}", "short": f"short-{uuid.uuid4().hex[:8]}"}.get(secret, secret)
    if secret == "short":
        admin.create_secret(name, b"too short")
    if secret == "pem":
        name = f"pem-{uuid.uuid4().hex[:8]}"
        admin.create_secret(name, b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 64 + b"\n-----END PRIVATE KEY-----\n")
    admin.close()
    env = {
        "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp",
        "MCP_AUTH_JWT_ISSUER": ISSUER,
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": drongo_endpoint,
        "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
    }
    done = cli("token", "mint", "--user", "alice", "--scopes", "x", "--secret", name, env=env, defaults=False)
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


def test_without_any_key_the_error_says_what_to_set(cli):
    env = {
        "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp",
        "MCP_AUTH_JWT_ISSUER": ISSUER,
        "MCP_AUTH_JWT_JWKS_URL": "https://issuer.test/jwks",
    }
    done = cli("token", "mint", "--user", "alice", "--scopes", "x", env=env, defaults=False)
    assert done.returncode == 2
    assert "Minting needs a signing key: MCP_AUTH_JWT_HS_SECRET (or --secret)" in done.stderr
