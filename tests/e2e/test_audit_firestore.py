"""Audit records copied to Firestore (MCP_AUTH_AUDIT_FIRESTORE=true), through a real function process.

A tool call and a refused attempt each leave one document in the global ``audit`` collection with
who, what, outcome, latency, when, trace id and ``expire_at`` (TTL), and nothing secret. With
Firestore down requests still succeed and the drop is logged; with the setting off nothing is written.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import mcp_auth.store
from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.store.audit import COLLECTION
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import post_mcp
from tests.e2e.clients import mcp_client

AUDIT_ON = {"MCP_AUTH_AUDIT_FIRESTORE": "true", "MCP_AUTH_AUDIT_RETENTION_DAYS": "7"}


async def _documents(field: str, value: str, *, want: int = 1, wait: float = 30.0) -> list[dict[str, Any]]:
    """The audit documents whose ``field`` equals ``value``, waiting up to ``wait`` s for ``want`` of them."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from mcp_auth.store.firestore import firestore_client

    client = firestore_client(project=TEST_PROJECT)
    deadline = time.monotonic() + wait
    while True:
        snapshots = await client.collection(COLLECTION).where(filter=FieldFilter(field, "==", value)).get()
        docs = [s.to_dict() for s in snapshots]
        if len(docs) >= want or time.monotonic() > deadline:
            return docs
        await asyncio.sleep(0.2)


def _refuse(url: str, token: str, trace_id: str) -> httpx.Response:
    return post_mcp(url, token=token, headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})


async def test_a_tool_call_and_a_refused_attempt_each_leave_one_audit_document_without_secrets(
    start_function, make_user, mint, user_repo
):
    server = start_function(**AUDIT_ON)
    user = await make_user()
    token = mint(user.uid, audience=server.url)
    argument = f"argument-{secrets.token_hex(8)}"
    async with mcp_client(server.url, token) as client:
        assert not (await client.call_tool("echo", {"text": argument})).is_error
    forged = mint(user.uid, audience=server.url) + "x"  # a real token with a broken signature
    trace_id = secrets.token_hex(16)
    assert _refuse(server.url, forged, trace_id).status_code == 401

    mine = await _documents("user", user.uid)
    calls = [d for d in mine if d.get("mcp", {}).get("tool") == "echo"]
    assert len(calls) == 1, mine
    call = calls[0]
    assert call["auth"] == {"decision": "allowed", "method": "jwt", "reason": None}
    assert call["mcp"]["method"] == "tools/call" and call["mcp"]["latency_ms"] >= 0
    assert call["outcome"] == "ok" and call["status"] == 200 and call["route"] == "mcp"
    assert call["latency_ms"] >= call["mcp"]["latency_ms"]
    assert call["expire_at"] - call["at"] == timedelta(days=7)

    refused = await _documents("trace", f"projects/{TEST_PROJECT}/traces/{trace_id}")
    assert len(refused) == 1, refused
    denied = refused[0]
    assert "user" not in denied  # no credential was verified: nobody to name
    assert denied["auth"]["decision"] == "denied" and denied["auth"]["reason"] == "invalid_token"
    assert denied["outcome"] == "denied" and denied["status"] == 401
    assert denied["expire_at"] - denied["at"] == timedelta(days=7)

    stored = json.dumps([*mine, *refused], default=str)
    for secret in (token, forged, forged[:-1], token.split(".")[2], server.env["MCP_AUTH_JWT_HS256_KEY"], argument):
        assert secret not in stored
    assert not any(k in doc for doc in (*mine, *refused) for k in ("headers", "arguments", "token", "remoteIp"))


async def test_records_still_queued_at_shutdown_are_written_before_the_process_exits(start_function, make_user, mint):
    server = start_function(**AUDIT_ON)
    user = await make_user()
    async with mcp_client(server.url, mint(user.uid, audience=server.url)) as client:
        for n in range(5):
            assert not (await client.call_tool("echo", {"text": str(n)})).is_error
    server.stop()  # SIGTERM: graceful shutdown
    docs = await _documents("user", user.uid, want=5, wait=0)
    assert len([d for d in docs if d.get("mcp", {}).get("tool") == "echo"]) == 5


async def test_with_firestore_down_requests_succeed_and_the_drop_is_logged(restartable_firestore, start_function, mint):
    fs = restartable_firestore
    server = start_function(
        FIRESTORE_EMULATOR_HOST=fs.host,
        MCP_AUTH_FIRST_LOGIN="create",
        MCP_AUTH_DEFAULT_TOOLSETS="basics",
        MCP_AUTH_DEFAULT_SCOPES="mcp:tools",
        MCP_AUTH_USER_CACHE_TTL="300",
        **AUDIT_ON,
    )
    token = mint(f"down-{secrets.token_hex(4)}", audience=server.url)
    async with mcp_client(server.url, token) as client:
        assert not (await client.call_tool("echo", {"text": "before"})).is_error  # caches the user record
        await asyncio.to_thread(fs.kill)
        for n in range(3):
            assert not (await client.call_tool("echo", {"text": f"during {n}"})).is_error
    deadline = time.monotonic() + 60
    while "bound for Firestore" not in server.output() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    drops = [
        json.loads(line)
        for line in server.output().splitlines()
        if line.startswith("{") and "bound for Firestore" in line
    ]
    assert drops, server.output()[-3000:]
    assert all(
        d["severity"] == "WARNING" and d["logger"] == "mcp_auth.audit" and d["audit_dropped"] >= 1 for d in drops
    )
    assert token not in server.output()


async def test_with_the_setting_off_nothing_is_written(start_function, make_user, mint):
    server = start_function()
    user = await make_user()
    async with mcp_client(server.url, mint(user.uid, audience=server.url)) as client:
        assert not (await client.call_tool("echo", {"text": "quiet"})).is_error
    trace_id = secrets.token_hex(16)
    assert _refuse(server.url, "not-a-jwt", trace_id).status_code == 401
    server.stop()  # anything queued would be written by now
    assert await _documents("user", user.uid, wait=0) == []
    assert await _documents("trace", f"projects/{TEST_PROJECT}/traces/{trace_id}", wait=0) == []


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"MCP_AUTH_AUDIT_FIRESTORE": "maybe"}, "MCP_AUTH_AUDIT_FIRESTORE must be true or false"),
        ({"MCP_AUTH_AUDIT_FIRESTORE": "true", "MCP_AUTH_AUDIT_RETENTION_DAYS": "0"}, "between 1 and 3650"),
        ({"MCP_AUTH_AUDIT_RETENTION_DAYS": "3651"}, "between 1 and 3650"),
        ({"MCP_AUTH_AUDIT_RETENTION_DAYS": "30d"}, "must be a whole number"),
        ({"MCP_AUTH_AUDIT_RETENTION_DAYS": "9" * 5000}, "must be a whole number"),
        ({"MCP_AUTH_AUDIT_RETENTION_DAYS": "-1"}, "between 1 and 3650"),
    ],
)
def test_bad_audit_settings_are_refused_with_the_setting_named(env, needle):
    with pytest.raises(ConfigError, match=needle):
        _audit_settings(env)


def _audit_settings(env: dict[str, str]) -> tuple[bool, int]:
    settings = Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:9/mcp",
            "MCP_AUTH_PROVIDERS": "dev",
            "MCP_AUTH_DEV_USER": "u",
            **env,
        }
    )
    return settings.audit_firestore, settings.audit_retention_days


def test_audit_settings_default_to_off_and_thirty_days():
    assert _audit_settings({}) == (False, 30)
    assert _audit_settings({"MCP_AUTH_AUDIT_FIRESTORE": " TRUE ", "MCP_AUTH_AUDIT_RETENTION_DAYS": "365"}) == (
        True,
        365,
    )


def test_a_bad_audit_setting_stops_the_function_at_start(start_function):
    with pytest.raises(RuntimeError) as caught:
        start_function(MCP_AUTH_AUDIT_FIRESTORE="yes please")
    assert "MCP_AUTH_AUDIT_FIRESTORE must be true or false" in str(caught.value)


# -- mcp-auth audit list -------------------------------------------------------------------------


@pytest.fixture
def audit(cli, firestore_emulator):
    """``mcp-auth audit …`` in this process, against the emulator (from an async test: ``asyncio.to_thread``)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(
            "audit",
            *args,
            env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT, "FIRESTORE_EMULATOR_HOST": firestore_emulator.host},
        )

    return run


async def test_audit_list_prints_a_users_records_newest_first(start_function, make_user, mint, audit):
    server = start_function(**AUDIT_ON)
    user, other = await make_user(), await make_user()
    for who, texts in ((user, ("one", "two", "three")), (other, ("elsewhere",))):
        async with mcp_client(server.url, mint(who.uid, audience=server.url)) as client:
            for text in texts:
                assert not (await client.call_tool("echo", {"text": text})).is_error
    server.stop()

    done = await asyncio.to_thread(audit, "list", "--user", user.uid, "--limit", "1000")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["user"] for r in rows} == {user.uid}
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    assert len([r for r in rows if r.get("mcp", {}).get("tool") == "echo"]) == 3
    newest = await asyncio.to_thread(audit, "list", "--user", user.uid, "--limit", "1")
    assert [json.loads(line) for line in newest.stdout.splitlines()] == rows[:1]

    nobody = await asyncio.to_thread(audit, "list", "--user", "nobody-here")
    assert nobody.returncode == 0 and nobody.stdout.startswith("# No audit documents for 'nobody-here'")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("list",), "the following arguments are required: --user"),
        (("list", "--user", "../users/x"), "A user id is"),
        (("list", "--user", "__admin"), "A user id is"),
        (("list", "--user", "x" * 300), "A user id is"),
        (("list", "--user", "a b"), "A user id is"),
        (("list", "--user", "u", "--limit", "0"), "--limit must be between 1 and 1000"),
        (("list", "--user", "u", "--limit", "1001"), "--limit must be between 1 and 1000"),
        (("list", "--user", "u", "--limit", "ten"), "--limit takes a whole number"),
        (("drop", "--user", "u"), "invalid choice"),
    ],
)
def test_audit_list_refuses_bad_input_with_one_clear_line(audit, args, needle):
    done = audit(*args)
    assert done.returncode == 2 and needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_declared_index_serves_the_query_audit_list_runs():
    indexes = json.loads((Path(mcp_auth.store.__file__).parent / "indexes.json").read_text())
    [index] = [i for i in indexes["composite_indexes"] if i["collection"] == COLLECTION]
    assert index["fields"] == [
        {"field_path": "user", "order": "ASCENDING"},
        {"field_path": "at", "order": "DESCENDING"},
        {"field_path": "__name__", "order": "DESCENDING"},
    ]


async def test_a_full_queue_drops_new_records_with_one_counted_warning(user_repo, caplog):
    from mcp_auth.observe import RequestRecord
    from mcp_auth.store.audit import FirestoreAuditSink

    sink = FirestoreAuditSink(project=TEST_PROJECT, queue_size=2)
    uid = f"full-{secrets.token_hex(4)}"
    with caplog.at_level("WARNING", logger="mcp_auth.audit"):
        for _ in range(5):  # no await in between: the writer cannot drain before the queue fills
            record = RequestRecord(
                method="POST",
                path="/mcp",
                route="mcp",
                remote_ip=None,
                user_agent=None,
                trace=None,
                status=200,
                user=uid,
                auth_method="jwt",
                auth_decision="allowed",
            )
            sink.submit(record)
        await sink.aclose()
    assert (sink.written, sink.dropped) == (2, 3)
    warnings = [r for r in caplog.records if r.name == "mcp_auth.audit"]
    assert len(warnings) == 1 and "the queue is full" in warnings[0].getMessage()
    assert warnings[0].audit_dropped == 1 and warnings[0].audit_dropped_total == 1  # the first drop is reported
    assert len(await _documents("user", uid, want=2)) == 2
