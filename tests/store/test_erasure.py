"""Erasure and export on the emulator: data made through every feature's own code, then nothing left.

One user gets a record, notes (through the notes toolset), a task, a reply slot, credential versions,
an API key, an identity link, an OAuth consent, code, token family and refresh token, audit records and
rate-limit windows; a second user gets the same. Erasing the first leaves no document anywhere in the
emulator's project that names it, and every document of the second as it was.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from mcp_auth.store.erasure import OWNED, UserData, jsonable, window_digests
from mcp_auth.store.users import UserRecord, UserRepository
from tests._fixtures.databases import dump
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm

ISSUER = "https://accounts.example.com"
TOOLS = ("add_note", "list_notes")


@pytest.fixture
async def repo(user_repo: UserRepository) -> UserRepository:
    await warm(user_repo)
    return user_repo


async def _populate(repo: UserRepository, uid: str) -> None:
    """Everything the framework stores about ``uid``, written by the code that writes it in production."""
    from mcp_auth.backchannel import Mailbox
    from mcp_auth.context import RequestContext, UserContext, request_context
    from mcp_auth.oauth.store import OAuthStore
    from mcp_auth.observe import RequestRecord
    from mcp_auth.principal import Principal
    from mcp_auth.ratelimit import RateLimiter, tool_key
    from mcp_auth.ratelimit.windows import FirestoreWindows
    from mcp_auth.rates import Rate
    from mcp_auth.store.api_keys import ApiKeyRepository
    from mcp_auth.store.audit import FirestoreAuditSink
    from mcp_auth.store.credential_versions import CredentialVersions
    from mcp_auth.store.handle import user_stores
    from mcp_auth.store.identities import Identity, IdentityLinks
    from mcp_auth.tasks import COLLECTION as TASKS
    from mcp_auth.tasks import TaskStore
    from toolsets.notes import create_note

    client = repo._client
    record = await repo.create(UserRecord(uid=uid, scopes=frozenset({"notes:write"}), toolsets=frozenset({"notes"})))
    record = await repo.sign_out(uid)  # a record change: an event naming the user in "revocations"
    stores = user_stores(project=TEST_PROJECT)
    user = UserContext(
        principal=Principal(user_id=uid, scopes=frozenset(), auth_method="jwt"), record=record, scopes=frozenset()
    )
    with request_context(RequestContext(user=user, stores=stores)):
        await create_note(title=f"note of {uid}", body="remember the milk", tags=["home"])
        await create_note(title="second", request_id=f"req-{uuid.uuid4().hex}")
        await TaskStore.for_current_user().create(
            tool="add_note", ttl=timedelta(hours=1), poll_interval_ms=500, lease=timedelta(minutes=1)
        )
    await Mailbox(stores, ttl=timedelta(minutes=5)).open(uid)
    assert TASKS == "mcp_tasks"
    await CredentialVersions(client).bump(uid, "github", event_id=f"evt-{uid}")
    await ApiKeyRepository(client).create(
        uid=uid, scopes=["notes:read"], name="laptop", expires_at=None, pepper=b"p" * 32
    )
    link = await IdentityLinks(client).link(Identity(issuer=ISSUER, sub=f"sub-{uid}", email=uid, email_vouched=True))
    assert link.uid == uid
    oauth = OAuthStore(client)
    grant = {
        "client_id": "client-1",
        "redirect_uri": "http://127.0.0.1/cb",
        "code_challenge": "x",
        "scope": "notes:read",
    }
    await oauth.save_consent(f"approval-{uid}", {**grant, "uid": uid}, 60)
    family = await oauth.new_family(uid, "client-1", 3600)
    await oauth.save_code(f"code-{uid}", {**grant, "resource": "r", "uid": uid}, 60)
    await oauth.save_refresh_token(f"refresh-{uid}", {**grant, "resource": "r", "uid": uid, "family": family}, 3600)
    sink = FirestoreAuditSink(project=TEST_PROJECT, client=client)
    for status in (200, 403):
        sink.submit(
            RequestRecord(
                method="POST", path="/mcp", route="mcp", remote_ip=None, user_agent=None, trace=None,
                status=status, user=uid, auth_method="jwt", auth_decision="allowed",
            )
        )  # fmt: skip
    await sink.aclose()
    limiter = RateLimiter(FirestoreWindows(client))
    assert (await limiter.check("user", uid, Rate(100, 60))).allowed
    assert (await limiter.check("tool", tool_key(uid, "add_note"), Rate(100, 60))).allowed


def _mentions(found: dict[str, tuple[dict[str, Any], Any]], needle: str) -> list[str]:
    return sorted(path for path, (data, _) in found.items() if needle in path or needle in repr(data))


async def _windows(repo: UserRepository, uid: str) -> list[str]:
    digests = window_digests(uid, TOOLS)
    return [
        snap.id async for snap in repo._client.collection("rate_limits").stream() if snap.id.split("-")[2] in digests
    ]


async def test_erasure_leaves_nothing_that_names_the_user_and_the_other_user_intact(repo):
    gone, kept = f"erase-{uuid.uuid4().hex[:10]}@example.com", f"keep-{uuid.uuid4().hex[:10]}@example.com"
    await _populate(repo, gone)
    await _populate(repo, kept)
    before = await dump(repo._client)
    assert len(_mentions(before, gone)) >= 14, _mentions(before, gone)
    assert len(await _windows(repo, gone)) == 2
    kept_before = {p: before[p] for p in _mentions(before, kept)}

    removed = await UserData(repo._client, gone, tools=TOOLS, page=2).erase()  # small pages: several rounds each

    after = await dump(repo._client)
    assert _mentions(after, gone) == []
    assert await _windows(repo, gone) == []
    assert {p: after[p] for p in _mentions(after, kept)} == kept_before
    assert len(await _windows(repo, kept)) == 2
    assert removed["users"] == 1 and removed["users/{uid}/notes"] == 2 and removed["api_keys"] == 1
    assert removed["audit"] == 2 and removed["rate_limits"] == 2 and removed["identities"] == 1
    for path in ("users/{uid}/mcp_tasks", "users/{uid}/mcp_replies", "users/{uid}/credential_versions"):
        assert removed[path] == 1, path
    for path in ("oauth_families", "oauth_refresh_tokens", "oauth_codes", "oauth_consents", "revocations"):
        assert removed[path] == 1, path
    added = [after[path][0] for path in after.keys() - before.keys()]  # erasure's own event names no one
    assert [(event["kind"], event["uid"]) for event in added] == [("erased", None)]
    assert sum(removed.values()) == len(before) - len(after) + len(added)  # every removed document counted once


async def test_a_second_erasure_removes_nothing_and_an_interrupted_one_is_finished_by_the_next(repo):
    uid = f"resume-{uuid.uuid4().hex[:10]}"
    await _populate(repo, uid)
    data = UserData(repo._client, uid, tools=TOOLS, page=1)
    # An erasure that stopped after the global collections: the record and the subtree are still there.
    for owned in OWNED:
        if owned.reach == "field":
            await data._drain(repo._client.collection(owned.path).where(filter=_equals(owned.field, uid)))
    assert await repo.get(uid) is not None
    removed = await data.erase()
    assert removed["users"] == 1 and removed["users/{uid}/notes"] == 2 and removed["api_keys"] == 0
    assert _mentions(await dump(repo._client), uid) == []
    assert not any((await data.erase()).values())


async def test_export_holds_every_document_as_json_without_key_hashes(repo):
    import json

    uid = f"export-{uuid.uuid4().hex[:10]}@example.com"
    await _populate(repo, uid)
    exported = await UserData(repo._client, uid, tools=TOOLS, page=2).export()
    text = json.dumps(exported)  # JSON-ready as returned
    found = exported["collections"]
    assert found["users"][0]["data"]["toolsets"] == ["notes"]
    assert found["users"][0]["data"]["created_at"].endswith("Z")
    assert sorted(n["data"]["title"] for n in found["users/{uid}/notes"]) == ["note of " + uid, "second"]
    assert found["api_keys"][0]["data"]["name"] == "laptop" and "digest" not in found["api_keys"][0]["data"]
    assert len(found["audit"]) == 2 and len(found["rate_limits"]) == 2
    for path in ("users/{uid}/mcp_tasks", "users/{uid}/mcp_replies", "users/{uid}/credential_versions", "identities"):
        assert len(found[path]) == 1, path
    for path in ("oauth_families", "oauth_refresh_tokens", "oauth_codes", "oauth_consents"):
        assert found[path][0]["data"]["uid"] == uid
    assert "oauth_clients" not in found and uid in text
    assert await repo.get(uid) is not None  # export changes nothing


def test_values_become_json_datetimes_as_rfc_3339_and_bytes_as_base64():
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    assert jsonable({"at": moment, "raw": b"\x00\xff", "n": [1, None, True]}) == {
        "at": "2026-01-02T03:04:05.600000Z",
        "raw": "AP8=",
        "n": [1, None, True],
    }


def test_a_hostile_uid_is_refused_before_any_read():
    from mcp_auth.store.users import InvalidUserId

    for uid in ("../x", "a/b", "x" * 300, "__name__", ""):
        with pytest.raises(InvalidUserId):
            UserData(object(), uid)  # type: ignore[arg-type]


def _equals(field: str | None, value: str) -> Any:
    from google.cloud.firestore_v1.base_query import FieldFilter

    return FieldFilter(field, "==", value)
