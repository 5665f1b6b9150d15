"""Each provider configured from settings, end to end: secrets from Secret Manager, API keys, start-up checks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import jwt
import pytest

from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import post_mcp
from tests._fixtures.secret_manager import SecretManagerAdmin
from tests.e2e.clients import mcp_client


@pytest.fixture
def secrets_admin(drongo_endpoint):
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    yield admin
    admin.close()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _hs_token(key: bytes, user: str, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": "https://issuer.test/", "aud": audience, "sub": user, "exp": now + 300, "scope": "mcp:tools"}
    return jwt.encode(claims, key, algorithm="HS256")


async def test_hs_keys_from_secret_manager_rotate_without_downtime(
    start_function, secrets_admin, drongo_endpoint, make_user
):
    secret = _name("jwt-hs")
    old, new = os.urandom(32), os.urandom(32)
    first = secrets_admin.create_secret(secret, old)[0]
    server = start_function(
        MCP_AUTH_JWT_HS256_KEY=None,
        MCP_AUTH_JWT_HS_SECRET=secret,
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
        MCP_AUTH_SECRET_REFRESH_SECONDS="1",
        MCP_AUTH_AUTH_CACHE_TTL="1",
    )
    user = await make_user()
    assert post_mcp(server.url, token=_hs_token(old, user.uid, server.url)).status_code == 200
    assert post_mcp(server.url, token=_hs_token(new, user.uid, server.url)).status_code == 401

    secrets_admin.add_version(secret, new)  # the new key rolls out; both are accepted meanwhile
    deadline = time.monotonic() + 30
    while post_mcp(server.url, token=_hs_token(new, user.uid, server.url)).status_code != 200:
        assert time.monotonic() < deadline, "the new key version was never picked up"
        time.sleep(0.5)
    assert post_mcp(server.url, token=_hs_token(old, user.uid, server.url)).status_code == 200

    secrets_admin.disable(secret, first)  # the old key is retired
    deadline = time.monotonic() + 30
    while post_mcp(server.url, token=_hs_token(old, user.uid, server.url)).status_code != 401:
        assert time.monotonic() < deadline, "the retired key version kept working"
        time.sleep(0.5)
    assert post_mcp(server.url, token=_hs_token(new, user.uid, server.url)).status_code == 200


def test_missing_secret_stops_the_start_naming_it(function_env, drongo_endpoint, tmp_path):
    secret = _name("absent")
    env = {
        **os.environ,
        **function_env,
        "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:1/mcp",
        "MCP_AUTH_JWT_HS256_KEY": "",
        "MCP_AUTH_JWT_HS_SECRET": secret,
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": drongo_endpoint,
    }
    code = "import runpy, sys; sys.path.insert(0, 'functions'); runpy.run_path('functions/main.py')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert secret in done.stderr
    assert "ConfigError" in done.stderr


@pytest.fixture
def api_key_server(start_function, secrets_admin, drongo_endpoint):
    pepper_secret = _name("pepper")
    secrets_admin.create_secret(pepper_secret, os.urandom(32))
    server = start_function(
        MCP_AUTH_PROVIDERS="jwt,api_key",
        MCP_AUTH_API_KEY_PEPPER_SECRET=pepper_secret,
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
    )
    return server


@pytest.fixture
def keys(cli, api_key_server):
    """``mcp-auth keys …`` in this process with the server's settings (from an async test: ``asyncio.to_thread``)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli("keys", *args, env=api_key_server.env, defaults=False)

    return run


async def _create_key(keys, user: str, *extra: str) -> str:
    done = await asyncio.to_thread(keys, "create", "--user", user, "--name", "laptop", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.split("\n# ")[0])["key"]


async def test_api_keys_work_in_either_header_and_record_last_use(api_key_server, keys, make_user):
    user = await make_user()
    key = await _create_key(keys, user.uid)
    async with mcp_client(api_key_server.url, key) as client:
        who = await client.call_tool("whoami", {})
    assert who.structured_content["user_id"] == user.uid
    assert who.structured_content["auth_method"] == "api_key"
    assert post_mcp(api_key_server.url, headers={"X-API-Key": key}).status_code == 200
    listed = json.loads((await asyncio.to_thread(keys, "list", "--user", user.uid)).stdout)
    assert [k["name"] for k in listed] == ["laptop"]
    assert "key" not in listed[0] and "digest" not in listed[0]
    deadline = time.monotonic() + 10
    while json.loads((await asyncio.to_thread(keys, "list", "--user", user.uid)).stdout)[0]["last_used_at"] is None:
        assert time.monotonic() < deadline, "last_used_at was never written"
        await asyncio.sleep(0.3)


async def test_api_key_rejections_are_specific(api_key_server, keys, make_user, user_repo):
    user = await make_user()
    key = await _create_key(keys, user.uid)
    key_id = key.split("_")[1]
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    r = post_mcp(api_key_server.url, token=wrong_secret)
    assert r.status_code == 401 and "unknown or its secret is wrong" in r.json()["error_description"]
    unknown = "mak_" + "Z" * 16 + "_" + key.split("_", 2)[2]
    assert post_mcp(api_key_server.url, token=unknown).json() == r.json()
    r = post_mcp(api_key_server.url, token="mak_short_x")
    assert r.status_code == 401 and "malformed" in r.json()["error_description"]
    r = post_mcp(api_key_server.url, token=key, headers={"X-API-Key": key})
    assert r.status_code == 401 and "not both" in r.json()["error_description"]

    await user_repo.update(user.uid, status="disabled")
    assert post_mcp(api_key_server.url, headers={"X-API-Key": key}).status_code == 403

    await user_repo.update(user.uid, status="active")
    assert (await asyncio.to_thread(keys, "revoke", key_id)).returncode == 0
    other = await _create_key(keys, user.uid)
    assert (await asyncio.to_thread(keys, "revoke", other.split("_")[1])).returncode == 0
    r = post_mcp(api_key_server.url, headers={"X-API-Key": other})
    assert r.status_code == 401 and "revoked" in r.json()["error_description"]


def test_keys_cli_rejects_bad_input_with_one_line(keys):
    for args, needle in [
        (("create", "--user", "../etc"), "user id"),
        (("create", "--user", "nobody-here"), "No user record"),
        (("revoke", "not-an-id"), "key id"),
        (("create", "--user", "x", "--ttl-days", "0"), "--ttl-days"),
    ]:
        done = keys(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert needle in done.stderr
        assert "Traceback" not in done.stderr
