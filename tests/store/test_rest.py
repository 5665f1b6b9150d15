"""Point reads over Firestore's REST API (``store/rest.py``), on the session emulator: what they read equals
what the gRPC client reads, version included; the Cloud Run token path against a loopback metadata server;
odd answers; and a fresh function answering its first tools/call before the gRPC library is imported."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import json
import math
import os
import textwrap
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mcp_auth.devtools.emulator import free_port
from mcp_auth.errors import DisabledUser, StoreUnavailable
from mcp_auth.http import close_http_client
from mcp_auth.store.firestore import firestore_client
from mcp_auth.store.layout import LAYOUT_VERSION, CorruptLayout, LayoutGate, RecordedLayout, layout_ref, read_layout
from mcp_auth.store.rest import DocumentReader, MetadataToken, document_reader, parse_time
from mcp_auth.store.users import USERS, UserDirectory, UserRepository
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import mcp_request, messages


@pytest.fixture(autouse=True)
async def _close_pooled_client() -> AsyncIterator[None]:
    """The REST reads use the loop's pooled client: closed after each test, so no connection outlives it."""
    yield
    await close_http_client()


def over_rest(project: str = TEST_PROJECT) -> UserRepository:
    """A repository as the server builds it (from a client factory): on the emulator, it reads over REST."""
    factory = functools.partial(firestore_client, project=project, database="(default)")
    assert document_reader(factory) is not None
    return UserRepository(factory)


def kinds(value: Any) -> Any:
    """The shape of a decoded value: its types, all the way down (a DatetimeWithNanoseconds is a datetime)."""
    if isinstance(value, dict):
        return {k: kinds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [kinds(v) for v in value]
    return "datetime" if isinstance(value, datetime) else type(value).__name__


async def test_a_record_with_every_kind_of_value_reads_the_same_over_rest_and_grpc(user_repo):
    from google.cloud.firestore import SERVER_TIMESTAMP

    uid = f"kinds.a_b@c:d+e-f|g-{uuid.uuid4().hex[:8]}"  # every character a user id may hold
    settings = {
        "string": "plain",
        "unicode": 'é ☃ \U0001f600 "quoted" \\ /',
        "empty_string": "",
        "int": 42,
        "big": 2**62,
        "negative": -(2**63),
        "zero": 0,
        "double": 1.5,
        "whole_double": 2.0,
        "tiny": 5e-324,
        "infinite": math.inf,
        "minus_infinite": -math.inf,
        "true": True,
        "false": False,
        "null": None,
        "timestamp": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "server_time": SERVER_TIMESTAMP,
        "map": {"nested": {"deeper": [1, "two", {"three": 3.0}]}, "with space": "ok"},
        "empty_map": {},
        "array": [None, True, 1, 1.5, "s", b"\x00", {}, {"in": [1]}],
        "empty_array": [],
        "bytes": bytes(range(256)),
        "empty_bytes": b"",
        "nan": math.nan,
    }
    await (
        user_repo._client.collection(USERS)
        .document(uid)
        .set(
            {
                "status": "active",
                "scopes": ["mcp:tools", "notes:read"],
                "toolsets": ["basics", "notes"],
                "withheld_scopes": ["admin"],
                "withheld_toolsets": ["github"],
                "quotas": {"user": "100/minute", "tool:echo": "off"},
                "group_grants": {
                    "groups": ["eng"],
                    "toolsets": ["github"],
                    "scopes": ["admin", "github:read"],
                    "sources": {"toolsets": {"github": ["eng"]}, "scopes": {"admin": ["eng"], "github:read": ["eng"]}},
                },
                "tokens_valid_after": datetime(2025, 6, 7, 8, 9, 10, 654321, tzinfo=UTC),
                "settings": settings,
                "created_at": SERVER_TIMESTAMP,
            }
        )
    )

    by_grpc, by_rest = await user_repo.get(uid), await over_rest().get(uid)

    assert by_grpc is not None and by_rest is not None
    assert math.isnan(by_grpc.settings["nan"]) and math.isnan(by_rest.settings["nan"])  # NaN != NaN: apart
    grpc_settings = {k: v for k, v in by_grpc.settings.items() if k != "nan"}
    rest_settings = {k: v for k, v in by_rest.settings.items() if k != "nan"}
    assert rest_settings == grpc_settings and kinds(rest_settings) == kinds(grpc_settings)
    assert (by_rest.version, by_rest.tokens_valid_after) == (by_grpc.version, by_grpc.tokens_valid_after)
    assert by_rest.version and by_rest.tokens_valid_after == datetime(2025, 6, 7, 8, 9, 10, 654321, UTC).timestamp()
    assert by_rest.explain() == by_grpc.explain() and "admin" not in by_rest.scopes
    assert dataclasses.replace(by_rest, settings={}) == dataclasses.replace(by_grpc, settings={})


async def test_a_reference_or_a_geo_point_leaves_the_read_to_the_grpc_client(user_repo):
    from google.cloud.firestore import GeoPoint

    uid = f"ref-{uuid.uuid4().hex[:12]}"
    client = user_repo._client
    await (
        client.collection(USERS)
        .document(uid)
        .set(
            {"status": "active", "settings": {"manager": client.document("users/boss"), "office": GeoPoint(48.8, 2.35)}}
        )
    )
    by_rest = await over_rest().get(uid)
    assert by_rest == await user_repo.get(uid)
    assert by_rest is not None and by_rest.settings["office"] == GeoPoint(48.8, 2.35)


async def test_a_record_nested_as_deep_as_firestore_allows_reads_the_same(user_repo):
    uid = f"deep-{uuid.uuid4().hex[:12]}"
    deepest: Any = [1, "leaf"]
    for level in range(18):  # with "settings" and the array, the 20 levels Firestore allows
        deepest = {f"level{level}": deepest}
    await user_repo._client.collection(USERS).document(uid).set({"settings": {"deep": deepest}})
    by_rest = await over_rest().get(uid)
    assert by_rest is not None and by_rest == await user_repo.get(uid)


async def test_a_missing_record_is_none_both_ways(user_repo):
    uid = f"nobody-{uuid.uuid4().hex[:12]}"
    assert await over_rest().get(uid) is None and await user_repo.get(uid) is None


async def test_a_disabled_user_read_over_rest_is_refused(make_user, user_repo):
    record = await make_user(status="disabled")
    by_rest = await over_rest().get(record.uid)
    assert by_rest == record == await user_repo.get(record.uid) and by_rest is not None and not by_rest.active
    with pytest.raises(DisabledUser):
        await UserDirectory(over_rest()).load(record.uid)


async def test_a_document_too_large_for_the_rest_answer_is_read_with_grpc(user_repo):
    uid = f"large-{uuid.uuid4().hex[:12]}"
    # 100,000 nulls: 0.1 MB stored, about 5 MB as the emulator's JSON (over MAX_BYTES)
    await user_repo._client.collection(USERS).document(uid).set({"settings": {"nulls": [None] * 100_000}})
    by_rest = await over_rest().get(uid)
    assert by_rest is not None and by_rest == await user_repo.get(uid)
    assert len(by_rest.settings["nulls"]) == 100_000


async def test_the_layout_reads_the_same_over_rest_and_grpc(fresh_database):
    factory = functools.partial(firestore_client, project=fresh_database.project, database="(default)")
    assert document_reader(factory) is not None
    assert await read_layout(factory) == await read_layout(fresh_database.client) == RecordedLayout(0, False)

    await layout_ref(fresh_database.client).set({"version": LAYOUT_VERSION, "updated_at": datetime.now(UTC)})
    by_rest, by_grpc = await read_layout(factory), await read_layout(fresh_database.client)
    assert by_rest == by_grpc and by_rest.recorded and by_rest.version == LAYOUT_VERSION
    assert by_rest.update_time is not None and by_grpc.update_time is not None
    assert by_rest.update_time.isoformat() == by_grpc.update_time.isoformat()
    gate = LayoutGate(factory)
    await gate.check()
    assert gate.ok

    await layout_ref(fresh_database.client).set({"version": True})
    for source in (factory, fresh_database.client):
        with pytest.raises(CorruptLayout, match="not a layout number"):
            await read_layout(source)


def test_rest_is_chosen_for_a_client_factory_on_the_emulator_or_cloud_run_only(monkeypatch):
    factory = functools.partial(firestore_client, project="p", database="(default)")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    assert document_reader(factory) is not None
    assert document_reader(lambda: None) is None and document_reader(object()) is None  # a client: kept
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST")
    monkeypatch.delenv("K_SERVICE", raising=False)
    assert document_reader(factory) is None  # a laptop, the CLI: gRPC with Application Default Credentials
    monkeypatch.setenv("K_SERVICE", "mcp")
    assert document_reader(factory) is not None
    assert document_reader(functools.partial(firestore_client, project=None)) is None  # gRPC says what is missing


def test_times_are_cut_to_microseconds_like_the_grpc_clients():
    assert parse_time("2026-01-02T03:04:05.123456789Z") == datetime(2026, 1, 2, 3, 4, 5, 123456, UTC)
    assert parse_time("2026-01-02T03:04:05Z").isoformat() == "2026-01-02T03:04:05+00:00"
    assert parse_time("2026-01-02T03:04:05.1Z").microsecond == 100000
    for odd in ("2026-01-02T03:04:05+01:00", "2026-01-02T03:04:05+01:00Z", "2026-01-02T03:04:05.x1Z", "yesterday"):
        with pytest.raises(ValueError):
            parse_time(odd)


class MetadataServer:
    """A loopback stand-in for the metadata server's token endpoint. ``answers``: (status, body) to give next,
    in order; after them, a fresh token each time (``token-N``, ``expires_in``). ``flavors``: the
    ``Metadata-Flavor`` header of each request."""

    PATH = "/computeMetadata/v1/instance/service-accounts/default/token"

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.flavors: list[str | None] = []
        self.expires_in = 3599
        self.issue = lambda n: f"token-{n}"
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.flavors.append(self.headers.get("Metadata-Flavor"))
                if self.path != stand_in.PATH:
                    status, body = 404, b"not found"
                elif stand_in.answers:
                    status, body = stand_in.answers.pop(0)
                else:
                    token = stand_in.issue(len(stand_in.flavors))
                    status, body = 200, json.dumps({"access_token": token, "expires_in": stand_in.expires_in}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # a client that stops reading an oversized answer
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def metadata_server(monkeypatch) -> Iterator[MetadataServer]:
    server = MetadataServer()
    monkeypatch.setenv("GCE_METADATA_HOST", server.host)
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_token_is_fetched_once_and_reused_until_shortly_before_it_expires(metadata_server):
    clock = Clock()
    tokens = MetadataToken(clock=clock, margin=60)
    assert set(await asyncio.gather(*(tokens.get() for _ in range(10)))) == {"token-1"}  # one fetch, shared
    clock.now += 3599 - 61
    assert await tokens.get() == "token-1" and len(metadata_server.flavors) == 1
    clock.now += 2
    assert await tokens.get() == "token-2"
    assert metadata_server.flavors == ["Google", "Google"]


async def test_a_failing_metadata_server_is_retried_then_its_token_used(metadata_server):
    metadata_server.answers = [(500, b"oops"), (503, b"busy")]
    assert await MetadataToken().get() == "token-3"


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ((200, b'{"access_token": "abc", "expires_in": '), "without an access token"),
        ((200, b'{"token_type": "Bearer"}'), "without an access token"),
        ((404, b"not here"), "answered 404 without an access token"),
        ((200, b'{"access_token": "' + b"x" * (5 * 2**20) + b'"}'), "larger than 4 MiB"),
    ],
    ids=["malformed-json", "no-token", "not-found", "oversized"],
)
async def test_an_odd_metadata_answer_is_store_unavailable_with_what_went_wrong(metadata_server, answer, says):
    metadata_server.answers = [answer]
    with pytest.raises(StoreUnavailable, match=says):
        await MetadataToken().get()


async def test_a_metadata_server_that_is_down_is_store_unavailable_within_the_timeout(monkeypatch):
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="The metadata server did not answer in time .*retry shortly"):
        await MetadataToken().get()
    assert time.monotonic() - started < 7


async def test_firestore_that_does_not_answer_is_store_unavailable_within_the_timeout():
    reader = DocumentReader(
        project=TEST_PROJECT, database="(default)", base_url=f"http://127.0.0.1:{free_port()}", token=None
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"Firestore \(http://127\.0\.0\.1:\d+\) did not answer in time"):
        await reader.get(USERS, "someone")
    assert time.monotonic() - started < 7


RULES = """rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /users/{uid} { allow read: if request.auth.uid == 'mcp-service'; }
  }
}"""


def unsigned_jwt(project: str) -> str:
    """What the emulator takes for a signed-in account (it does not check signatures): uid ``mcp-service``."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "mcp-service", "user_id": "mcp-service", "aud": project, "iat": now, "exp": now + 3600}
    return (
        f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({**claims, 'iss': f'https://securetoken.google.com/{project}'})}."
    )


async def test_the_cloud_run_path_reads_with_the_metadata_token_and_explains_a_refusal(
    firestore_emulator, fresh_database, metadata_server
):
    """Cloud Run's path against the emulator: the token comes from the metadata stand-in, and the emulator's
    security rules (users readable by that account, nothing else) stand in for its IAM permissions."""
    project = fresh_database.project
    async with httpx.AsyncClient() as http:
        answer = await http.put(
            f"http://{firestore_emulator.host}/emulator/v1/projects/{project}:securityRules",
            json={"rules": {"files": [{"content": RULES}]}},
        )
    assert answer.status_code == 200, answer.text
    metadata_server.issue = lambda n: unsigned_jwt(project)
    tokens = MetadataToken()
    reader = DocumentReader(
        project=project, database="(default)", base_url=f"http://{firestore_emulator.host}", token=tokens
    )
    repository = UserRepository(fresh_database.client)
    await fresh_database.client.collection(USERS).document("someone").set({"status": "active", "scopes": ["a"]})

    snapshot = await reader.get(USERS, "someone")
    grpc = await fresh_database.client.collection(USERS).document("someone").get()
    assert snapshot is not None and snapshot.exists and snapshot.to_dict() == grpc.to_dict()
    assert snapshot.update_time == grpc.update_time
    missing = await reader.get(USERS, "nobody")
    assert missing is not None and not missing.exists
    assert await repository.get("someone") is not None and len(metadata_server.flavors) == 1  # token reused

    with pytest.raises(StoreUnavailable, match=r"meta/layout \(403: .*roles/datastore.user"):
        await reader.get("meta", "layout")
    await reader.get(USERS, "someone")
    assert metadata_server.flavors == ["Google", "Google"]  # a refused token is not used again


TOOLSET = '''
import sys
import threading

from mcp_auth import Toolset, ToolsetFactory, tool

IMPORTED_BY = []


class _Watch:
    """Notes which thread first imports the gRPC Firestore client (or gRPC itself)."""

    def find_spec(self, name, path=None, target=None):
        if (name == "grpc" or name.startswith("google.cloud.firestore")) and not IMPORTED_BY:
            IMPORTED_BY.append(threading.current_thread().name)
        return None


sys.meta_path.insert(0, _Watch())


def imports() -> str:
    """Which thread had imported the gRPC Firestore client when this call ran ("none": none had)."""
    loaded = [m for m in sys.modules if m == "grpc" or m.startswith("google.cloud.firestore")]
    return ",".join(IMPORTED_BY) if loaded else "none"


FACTORY = ToolsetFactory([Toolset("probe", tools=[tool(imports, scopes=["mcp:tools"])])])
'''


@pytest.fixture
def probing_function(start_function, tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe_toolset.py").write_text(textwrap.dedent(TOOLSET))
    return start_function(
        MCP_AUTH_FACTORY="probe_toolset:FACTORY",
        PYTHONPATH=os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
    )


async def test_a_fresh_function_answers_its_first_call_before_the_grpc_client_is_imported(
    probing_function, make_user, mint
):
    """The point of the REST reads: the first request (user record, layout) never waits for the gRPC
    import. Only the revocation listener's thread, started beside the first request, may have imported it."""
    user = await make_user(toolsets=("probe",))
    token = mint(user.uid, audience=probing_function.url)
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            probing_function.url, **mcp_request("tools/call", {"name": "imports", "arguments": {}}, token=token)
        )
    assert answer.status_code == 200, answer.text
    (result,) = messages(answer)
    importers = result["result"]["content"][0]["text"]
    assert importers in ("none", "mcp-auth-revocations"), (importers, probing_function.output()[-2000:])
