"""`mcp-auth connections list|delete --user U` against the emulators and the GitHub stand-in, and
a user's connections in the offboarding export (without the sealed tokens) and erasure, which revokes
each one at the provider first, as `connections delete` does."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid

from mcp_auth.config import Settings
from mcp_auth.connections.setup import build_vault
from mcp_auth.secrets import SecretStore
from tests._fixtures.firestore import TEST_PROJECT
from tests.connections.test_vault import connect


def _env(secret_manager, github) -> dict[str, str]:
    secret_manager.create_secret("vault-key", os.urandom(32))
    secret_manager.create_secret("link-key", os.urandom(32))
    secret_manager.create_secret("gh-client", github.client_secret.encode())
    return {
        "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
        "MCP_AUTH_CONNECTIONS": json.dumps([github.provider(f"projects/{secret_manager.project}/secrets/gh-client")]),
        "MCP_AUTH_CONNECTIONS_KEY_SECRET": f"projects/{secret_manager.project}/secrets/vault-key",
        "MCP_AUTH_CONNECT_LINK_KEY_SECRET": f"projects/{secret_manager.project}/secrets/link-key",
    }


async def _connected(env: dict[str, str], github, uid: str) -> str:
    settings = Settings.from_env(
        {
            **env,
            "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:1/mcp",
            "MCP_AUTH_PROVIDERS": "dev",
            "MCP_AUTH_DEV_USER": "x",
        }
    )
    store = SecretStore(project=TEST_PROJECT, endpoint=env["MCP_AUTH_SECRET_MANAGER_ENDPOINT"])
    vault = build_vault(settings, store)
    assert vault is not None
    tokens = await connect(vault, github, uid)
    return tokens.access_token


async def test_list_shows_no_token_and_delete_revokes_at_the_provider(
    cli, firestore_emulator, secret_manager, fake_github_oauth, user_repo
):
    env, uid = _env(secret_manager, fake_github_oauth), f"c-{uuid.uuid4().hex[:10]}"
    access = await _connected(env, fake_github_oauth, uid)
    listed = await asyncio.to_thread(cli, "connections", "list", "--user", uid, env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["provider"] == "github" and row["refreshable"] is True and access not in listed.stdout
    deleted = await asyncio.to_thread(cli, "connections", "delete", "--user", uid, env=env)
    assert deleted.returncode == 0 and "disconnected github" in deleted.stdout, deleted.stderr
    assert fake_github_oauth.revoked == ["octocat"]
    assert json.loads((await asyncio.to_thread(cli, "connections", "list", "--user", uid, env=env)).stdout) == []
    again = await asyncio.to_thread(cli, "connections", "delete", "--user", uid, env=env)
    assert again.returncode == 2 and "no connected account" in again.stderr


async def test_offboarding_exports_connections_without_tokens_and_erases_them(
    cli, firestore_emulator, secret_manager, fake_github_oauth, make_user
):
    env = _env(secret_manager, fake_github_oauth)
    uid = (await make_user(toolsets=("github",))).uid
    access = await _connected(env, fake_github_oauth, uid)
    exported = await asyncio.to_thread(cli, "users", "export", uid, env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT})
    assert exported.returncode == 0, exported.stderr
    (connection,) = json.loads(exported.stdout)["collections"]["users/{uid}/connections"]
    assert "sealed" not in connection["data"] and access not in exported.stdout
    erased = await asyncio.to_thread(
        cli, "users", "delete", uid, "--erase", "--yes", env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT}
    )
    assert erased.returncode == 0, erased.stderr
    listed = await asyncio.to_thread(cli, "connections", "list", "--user", uid, env=env)
    assert json.loads(listed.stdout) == []


async def test_erasure_revokes_each_connection_at_the_provider_before_deleting_it(
    cli, firestore_emulator, secret_manager, fake_github_oauth, make_user
):
    env = _env(secret_manager, fake_github_oauth)
    uid = (await make_user(toolsets=("github",))).uid
    access = await _connected(env, fake_github_oauth, uid)  # as octocat
    assert access in fake_github_oauth.logins
    erased = await asyncio.to_thread(cli, "users", "delete", uid, "--erase", "--yes", env=env)
    assert erased.returncode == 0, erased.stderr
    assert fake_github_oauth.revoked == ["octocat"] and access not in fake_github_oauth.logins  # the grant is gone
    assert "Disconnected github (revoked at the provider" in erased.stdout
    assert re.search(r"users/\{uid\}/connections\s+1\b", erased.stdout), erased.stdout
    assert access not in erased.stdout + erased.stderr
    listed = await asyncio.to_thread(cli, "connections", "list", "--user", uid, env=env)
    assert json.loads(listed.stdout) == []
    again = await asyncio.to_thread(cli, "users", "delete", uid, "--erase", "--yes", env=env)
    assert again.returncode == 2 and "Nothing is stored" in again.stderr and fake_github_oauth.revoked == ["octocat"]


def test_unknown_provider_and_missing_configuration_are_usage_errors(cli, firestore_emulator):
    done = cli("connections", "list", "--user", "alice", env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT})
    assert done.returncode == 2 and "MCP_AUTH_CONNECTIONS" in done.stderr
