"""input_required requestState across instances: one key from Secret Manager, bound to the user.

Two functions serve the conformance fixture server under one public resource URL (as
behind a load balancer); each round of a multi-round-trip call is sent to the instance
the test chooses. The key ring itself (rotation) is exercised against the Secret Manager
emulator with a clock the test advances.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.request_state import InvalidRequestState

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.request_state import SETTING, KeyRing, build_request_state
from mcp_auth.secrets import SecretStore
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import MODERN, messages, post_mcp
from tests._fixtures.secret_manager import SecretManagerAdmin

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "interop" / "conformance_function" / "main.py"
RESOURCE = "http://mcp.example.test/mcp"  # the public URL both instances serve: the state's audience
TOOL = "test_input_required_result_request_state"
INVALID_STATE = -32602


@pytest.fixture
def admin(drongo_endpoint: str) -> Iterator[SecretManagerAdmin]:
    admin = SecretManagerAdmin(drongo_endpoint, TEST_PROJECT)
    yield admin
    admin.close()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def shared_key(admin: SecretManagerAdmin) -> str:
    secret = _name("request-state")
    admin.create_secret(secret, os.urandom(32))
    return secret


@pytest.fixture
def two_instances(start_function: Callable[..., Any], drongo_endpoint: str) -> Callable[..., list[Any]]:
    def start(**env: str | None) -> list[Any]:
        return [
            start_function(
                _SOURCE=str(FIXTURE),
                MCP_AUTH_RESOURCE_URL=RESOURCE,
                MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
                **env,
            )
            for _ in range(2)
        ]

    return start


def _call(instance: Any, token: str, arguments: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    """One stateless 2026-07-28 tools/call to one instance; returns the JSON-RPC response."""
    meta = {"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}
    response = post_mcp(
        f"{instance.base}/mcp",
        "tools/call",
        {"name": TOOL, "arguments": arguments or {}, "_meta": meta, **params},
        token=token,
        protocol=MODERN,
        request_id=7,
        headers={"Host": "mcp.example.test"},
    )
    assert response.status_code in (200, 400), response.text
    return messages(response)[-1]


def _round_one(instance: Any, token: str) -> str:
    first = _call(instance, token)["result"]
    assert first["resultType"] == "input_required"
    assert set(first["inputRequests"]) == {"confirm"}
    assert first["requestState"].startswith("v1.")  # sealed: the plaintext never leaves the server
    assert "confirm" not in first["requestState"]
    return first["requestState"]


def _round_two(instance: Any, token: str, state: str) -> dict[str, Any]:
    answer = {"confirm": {"action": "accept", "content": {"ok": True}}}
    return _call(instance, token, inputResponses=answer, requestState=state)


async def test_round_two_on_the_other_instance_completes_with_the_shared_key(
    two_instances, shared_key, make_user, mint
):
    a, b = two_instances(MCP_AUTH_REQUEST_STATE_KEY_SECRET=shared_key)
    user = await make_user()
    token = mint(user.uid, audience=RESOURCE)
    state = _round_one(a, token)
    done = _round_two(b, token, state)
    assert "error" not in done, done
    assert done["result"]["content"][0]["text"] == "state-ok: confirmed=True"
    assert _round_two(a, token, state)["result"]["content"][0]["text"] == "state-ok: confirmed=True"


async def test_without_the_setting_the_other_instance_refuses_the_state(two_instances, make_user, mint):
    a, b = two_instances()
    user = await make_user()
    token = mint(user.uid, audience=RESOURCE)
    state = _round_one(a, token)
    refused = _round_two(b, token, state)
    assert refused["error"]["code"] == INVALID_STATE
    # off Cloud Run the notice is a debug line, so a local run's output stays quiet (docs/request-state.md);
    # on Cloud Run it is a warning (test_on_cloud_run_a_missing_setting_is_a_warning)
    assert "multi-round-trip" not in a.output()
    assert _round_two(a, token, state)["result"]["content"][0]["text"] == "state-ok: confirmed=True"


async def test_tampered_state_is_refused_with_a_clear_error(two_instances, shared_key, make_user, mint):
    a, b = two_instances(MCP_AUTH_REQUEST_STATE_KEY_SECRET=shared_key)
    user = await make_user()
    token = mint(user.uid, audience=RESOURCE)
    state = _round_one(a, token)
    flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    for forged in (state + "-TAMPERED", flipped, "v1.", json.dumps({"tool": TOOL, "asked": "confirm"})):
        refused = _round_two(b, token, forged)
        assert refused["error"]["code"] == INVALID_STATE, forged
        assert refused["error"]["message"] == "Invalid or expired requestState"
    assert "requestState rejected" in b.output()  # the real reason goes to the log only


async def test_state_minted_for_one_user_is_refused_for_another(two_instances, shared_key, make_user, mint):
    a, b = two_instances(MCP_AUTH_REQUEST_STATE_KEY_SECRET=shared_key)
    alice, bob = await make_user(), await make_user()
    state = _round_one(a, mint(alice.uid, audience=RESOURCE))
    stolen = _round_two(b, mint(bob.uid, audience=RESOURCE), state)
    assert stolen["error"]["code"] == INVALID_STATE
    assert _round_two(b, mint(alice.uid, audience=RESOURCE), state)["result"]["content"][0]["text"].startswith(
        "state-ok"
    )


async def test_state_of_another_deployment_sharing_the_key_is_refused(
    start_function, drongo_endpoint, shared_key, make_user, mint
):
    ours = start_function(
        _SOURCE=str(FIXTURE),
        MCP_AUTH_RESOURCE_URL=RESOURCE,
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
        MCP_AUTH_REQUEST_STATE_KEY_SECRET=shared_key,
    )
    other = start_function(
        _SOURCE=str(FIXTURE),
        MCP_AUTH_RESOURCE_URL="http://other.example.test/mcp",
        MCP_AUTH_ALLOWED_HOSTS="mcp.example.test",
        MCP_AUTH_JWT_AUDIENCE=RESOURCE,
        MCP_AUTH_SECRET_MANAGER_ENDPOINT=drongo_endpoint,
        MCP_AUTH_REQUEST_STATE_KEY_SECRET=shared_key,
    )
    user = await make_user()
    token = mint(user.uid, audience=RESOURCE)
    assert _round_two(ours, token, _round_one(other, token))["error"]["code"] == INVALID_STATE


# -- start-up: the setting and the secret ---------------------------------------------------


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = f"import runpy, sys; sys.path.insert(0, {str(FIXTURE.parent)!r}); runpy.run_path({str(FIXTURE)!r})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def startup_env(function_env: dict[str, str], drongo_endpoint: str) -> dict[str, str]:
    return {**function_env, "MCP_AUTH_RESOURCE_URL": RESOURCE, "MCP_AUTH_SECRET_MANAGER_ENDPOINT": drongo_endpoint}


def test_a_missing_secret_stops_the_start_naming_it(startup_env):
    secret = _name("absent")
    done = _start({**startup_env, SETTING: secret})
    assert done.returncode != 0
    assert "ConfigError" in done.stderr
    assert secret in done.stderr and SETTING in done.stderr


def test_a_secret_without_enabled_versions_stops_the_start(startup_env, admin):
    secret = _name("disabled")
    version = admin.create_secret(secret, os.urandom(32))[0]
    admin.disable(secret, version)
    done = _start({**startup_env, SETTING: secret})
    assert done.returncode != 0
    assert secret in done.stderr and "no enabled version" in done.stderr


def test_an_unreachable_secret_manager_stops_the_start(startup_env, unreachable_endpoint):
    secret = _name("far")
    done = _start({**startup_env, SETTING: secret, "MCP_AUTH_SECRET_MANAGER_ENDPOINT": unreachable_endpoint})
    assert done.returncode != 0
    assert secret in done.stderr and SETTING in done.stderr


def test_a_short_key_stops_the_start_without_showing_it(startup_env, admin):
    secret, short = _name("short"), b"only-sixteen-b!!"
    admin.create_secret(secret, short)
    done = _start({**startup_env, SETTING: secret})
    assert done.returncode != 0
    assert "16 bytes" in done.stderr and "at least 32" in done.stderr and secret in done.stderr
    assert short.decode() not in done.stderr


def _settings(**env: str) -> Settings:
    return Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": RESOURCE,
            "MCP_AUTH_PROVIDERS": "dev",
            "MCP_AUTH_DEV_USER": "u",
            "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
            **env,
        }
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" padded ", "surrounding spaces"),
        ("has space", "Invalid secret name"),
        ("a/b", "Invalid secret name"),
        ("x" * 300, "Invalid secret name"),
        ("projects/p/secrets/s/versions/3", "pins a version"),
        ("projects/p/secrets/s/versions/latest", "pins a version"),
        ("projects/p/secrets/s/versions/0", "version"),
        ("k\u00e9y", "Invalid secret name"),
        ("key\n", "surrounding spaces"),
    ],
)
def test_malformed_setting_values_are_rejected_with_a_clear_message(value, expected):
    with pytest.raises(ConfigError) as raised:
        build_request_state(_settings(**{SETTING: value}))
    assert SETTING in raised.value.message and expected in raised.value.message
    if len(value.strip()) > 3:
        assert value.strip() not in raised.value.message  # a misplaced key would otherwise reach the log


def test_the_setting_needs_a_project():
    settings = Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": RESOURCE,
            "MCP_AUTH_PROVIDERS": "dev",
            "MCP_AUTH_DEV_USER": "u",
            SETTING: "request-state",
        }
    )
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        build_request_state(settings)


def test_without_the_setting_the_key_is_this_instances_own(caplog):
    caplog.set_level("DEBUG", logger="mcp_auth.request_state")
    state = build_request_state(_settings())
    assert not state.shared and state.audience == RESOURCE
    [notice] = [r for r in caplog.records if SETTING in r.getMessage()]
    assert notice.levelname == "DEBUG" and "will not survive" in notice.getMessage()


def test_on_cloud_run_a_missing_setting_is_a_warning(caplog):
    settings = Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": "https://mcp.example.test/mcp",
            "K_SERVICE": "mcp",
            "MCP_AUTH_JWT_ISSUER": "https://issuer.example.test",
            "MCP_AUTH_JWT_JWKS_URL": "https://issuer.example.test/jwks",
        }
    )
    state = build_request_state(settings)
    assert not state.shared
    warning = [r for r in caplog.records if r.levelname == "WARNING" and SETTING in r.getMessage()]
    assert warning and "request_state_key" in warning[0].getMessage()


# -- rotation ---------------------------------------------------------------------------------


async def test_rotation_seals_with_a_new_version_only_once_every_instance_accepts_it(admin, drongo_endpoint, clock):
    secret = _name("rotate")
    first = admin.create_secret(secret, os.urandom(32))[0]
    store = SecretStore(project=TEST_PROJECT, endpoint=drongo_endpoint, refresh_interval=5, clock=clock)
    ring = KeyRing(store, secret, refresh_interval=5, clock=clock)
    peer = KeyRing(
        SecretStore(project=TEST_PROJECT, endpoint=drongo_endpoint, refresh_interval=5), secret, refresh_interval=5
    )
    try:
        await ring.load()
        await peer.load()  # another instance that has not reread the secret since the rotation began
        old = ring.seal(b"round one")

        admin.add_version(secret, os.urandom(32))
        clock.advance(6)
        await ring.refresh()  # sees the new version: opens with it, still seals with the old one
        during = ring.seal(b"during the rollout")
        assert peer.unseal(during) == b"during the rollout"
        assert ring.unseal(old) == b"round one"

        clock.advance(6)
        await ring.refresh()  # one refresh interval later every instance knows the new version
        after = ring.seal(b"after the rollout")
        with pytest.raises(InvalidRequestState):
            peer.unseal(after)  # the stale peer would refuse it: the grace period is what prevents this
        assert ring.unseal(old) == b"round one"

        admin.disable(secret, first)  # retire the old version
        clock.advance(6)
        await ring.refresh()
        with pytest.raises(InvalidRequestState):
            ring.unseal(old)
        assert ring.unseal(after) == b"after the rollout"
    finally:
        store.close()


async def test_a_failed_refresh_keeps_the_current_keys(admin, drongo_endpoint, clock):
    secret = _name("keep")
    admin.create_secret(secret, os.urandom(32))
    store = SecretStore(project=TEST_PROJECT, endpoint=drongo_endpoint, refresh_interval=5, clock=clock)
    ring = KeyRing(store, secret, refresh_interval=5, clock=clock)
    try:
        await ring.load()
        token = ring.seal(b"kept")
        admin.delete_secret(secret)
        clock.advance(6)
        await ring.refresh()  # logged; the ring keeps serving
        assert ring.unseal(token) == b"kept"
    finally:
        store.close()
