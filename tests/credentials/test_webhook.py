"""The credential webhook in process: signature, replay window, idempotency, rejections and their logs."""

from __future__ import annotations

import json
import logging
import secrets
import time

import httpx
import pytest
from mcp.server.mcpserver import MCPServer

from mcp_auth import Settings, wrap_server
from mcp_auth.credentials import CredentialWebhook, sign
from mcp_auth.credentials.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER
from mcp_auth.credentials.webhook import MAX_BODY_BYTES, PATH


@pytest.fixture
def keys() -> list[bytes]:
    return [secrets.token_urlsafe(32).encode()]


@pytest.fixture
def invalidated() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def post(keys, versions, invalidated):
    async def source():
        return keys

    webhook = CredentialWebhook(keys=source, versions=versions, on_invalidate=lambda u, p: invalidated.append((u, p)))
    # Served as a deployment serves it: behind the edge, which caps the body before the webhook reads it.
    settings = Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": "http://test/mcp",
            "MCP_AUTH_PROVIDERS": "jwt",
            "MCP_AUTH_JWT_ISSUER": "https://issuer.example.com/",
            "MCP_AUTH_JWT_HS256_KEY": "k" * 48,
        }
    )
    app = wrap_server(lambda record: MCPServer("t"), settings=settings, routes={PATH: webhook})

    async def send(body: bytes, headers: dict[str, str], method: str = "POST") -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.request(method, PATH, content=body, headers=headers)

    return send


def event(user: str, provider: str = "github", event_id: str | None = None) -> bytes:
    return json.dumps({"event_id": event_id or secrets.token_hex(8), "user_id": user, "provider": provider}).encode()


def signed(key: bytes, body: bytes, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(key, ts, body)}


async def test_a_signed_event_bumps_the_version_and_drops_the_local_copy(post, keys, versions, uid, invalidated):
    alice = uid()
    body = event(alice, event_id="evt-1")
    response = await post(body, signed(keys[0], body))
    assert response.status_code == 200 and response.json() == {"status": "invalidated"}
    assert await versions.current(alice, "github") == 1
    assert invalidated == [(alice, "github")]


async def test_the_same_event_twice_changes_nothing_the_second_time(post, keys, versions, uid):
    alice = uid()
    body = event(alice, event_id="evt-dup")
    assert (await post(body, signed(keys[0], body))).json() == {"status": "invalidated"}
    again = await post(body, signed(keys[0], body))
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert await versions.current(alice, "github") == 1


async def test_either_of_two_keys_verifies_during_a_rotation(post, keys, versions, uid):
    old = secrets.token_urlsafe(32).encode()
    keys.append(old)
    alice = uid()
    body = event(alice)
    assert (await post(body, signed(old, body))).status_code == 200


def _forged(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(secrets.token_urlsafe(32).encode(), body)


def _tampered(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"github", b"gitlab"), signed(key, body)


def _replayed(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(key, body, ts=int(time.time()) - 301)


def _future(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(key, body, ts=int(time.time()) + 301)


def _unsigned(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": "application/json"}


def _no_timestamp(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = signed(key, body)
    del headers[TIMESTAMP_HEADER]
    return body, headers


def _garbled_signature(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(key, body) | {SIGNATURE_HEADER: "sha256=abc"}


def _garbled_timestamp(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(key, body) | {TIMESTAMP_HEADER: "yesterday"}


def _oversized(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    big = json.dumps({"event_id": "e", "user_id": "u", "provider": "github", "pad": "x" * MAX_BODY_BYTES}).encode()
    return big, signed(key, big)


def _not_json(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return b"{not json", signed(key, b"{not json")


def _bad_user(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    bad = json.dumps({"event_id": "e", "user_id": "../admin", "provider": "github"}).encode()
    return bad, signed(key, bad)


def _no_event_id(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    bad = json.dumps({"user_id": "alice", "provider": "github"}).encode()
    return bad, signed(key, bad)


def _form(key: bytes, body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(key, body) | {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "attack, status, code",
    [
        (_forged, 401, "invalid_signature"),
        (_tampered, 401, "invalid_signature"),
        (_replayed, 401, "stale_timestamp"),
        (_future, 401, "stale_timestamp"),
        (_unsigned, 401, "missing_signature"),
        (_no_timestamp, 401, "missing_signature"),
        (_garbled_signature, 400, "malformed_signature"),
        (_garbled_timestamp, 400, "malformed_signature"),
        (_oversized, 413, "payload_too_large"),
        (_not_json, 400, "malformed_body"),
        (_bad_user, 400, "malformed_body"),
        (_no_event_id, 400, "malformed_body"),
        (_form, 415, "unsupported_media_type"),
    ],
)
async def test_bad_calls_are_rejected_logged_and_change_nothing(
    post, keys, versions, uid, invalidated, caplog, attack, status, code
):
    alice = uid()
    body, headers = attack(keys[0], event(alice))
    with caplog.at_level(logging.DEBUG):
        response = await post(body, headers)
    assert response.status_code == status
    assert response.json()["error"] == code and response.json()["error_description"]
    assert await versions.current(alice, "github") == 0
    assert invalidated == []
    # the webhook's own log line, or (for what the edge refuses first) the request line's outcome
    logged = "\n".join(
        f"{r.getMessage()} {getattr(r, 'outcome', '')}" for r in caplog.records if r.name.startswith("mcp_auth")
    )
    assert code in logged
    sent = headers.get(SIGNATURE_HEADER)
    assert not sent or (sent not in logged and sent[3:] not in logged)
    assert body.decode(errors="replace") not in logged
    assert keys[0].decode() not in logged


async def test_only_post_is_accepted(post, keys):
    response = await post(b"", {}, method="GET")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
