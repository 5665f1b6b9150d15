"""Hypothesis-generated HTTP requests against a real function subprocess, on every route.

Each example is one request: a route (the MCP endpoint, both metadata paths, the health
routes, the credential webhook, unknown paths), a method, a body (random JSON-RPC shapes,
wrong types, huge and deeply nested values, invalid UTF-8, random bytes), a content type
and a set of headers (protocol versions, ``Mcp-Method``/``Mcp-Name`` that may contradict the
body, duplicated and oversized headers), sent with no credential, a garbage one, or the valid
token of one of two users.

Invariants, for every example: an answer within a bounded time, never a 5xx, always a status
the route may give, a challenge with every 401, and never the other user's id in the answer.
``HARDENING_FUZZ_EXAMPLES`` sets the number of examples (defaults 150 and 100).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_auth.store.users import UserRecord
from tests.hardening.logscan import server_errors

EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "150"))
DEEP_EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "100"))
MCP_STATUSES = {200, 202, 204, 400, 401, 403, 404, 405, 406, 413, 415, 421, 422, 429, 431}
ROUTE_STATUSES = {200, 204, 400, 401, 404, 405, 413, 415, 421, 429, 431}
WEBHOOK = "/api/webhooks/credential-updated"
ROUTES = ("/mcp", "/mcp/", "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
          "/healthz", "/readyz", WEBHOOK)
UNKNOWN = ("/", "/unknown", "/mcp/extra", "/MCP", "/.well-known/x", "/%2e%2e/mcp", "/api/webhooks/")
PROTOCOLS = ("2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "1999-01-01", "", "garbage")
MCP_METHODS = ("initialize", "tools/list", "tools/call", "server/discover", "ping", "resources/list",
               "notifications/initialized", "prompts/get", "completion/complete", "x/unknown")
TOOL_NAMES = ("whoami", "echo", "echo_with_progress", "list_my_repositories", "create_note", "list_notes", "get_note",
              "search_notes", "nope", "", "../../etc")
SCOPES = "mcp:tools notes:read notes:write"
ARGUMENT_NAMES = ("text", "steps", "delay", "x", "title", "body", "tags", "id", "limit", "cursor", "query", "tag")

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)


@st.composite
def jsonrpc_bodies(draw: st.DrawFn) -> bytes:
    """JSON-RPC-ish messages: right and wrong types in every field, sometimes huge or deep."""
    method = draw(st.sampled_from(MCP_METHODS) | json_values)
    params: Any = draw(st.one_of(
        st.fixed_dictionaries({"name": st.sampled_from(TOOL_NAMES) | json_values,
                               "arguments": st.dictionaries(st.sampled_from(ARGUMENT_NAMES),
                                                            json_values, max_size=3) | json_values}),
        st.fixed_dictionaries({"protocolVersion": st.sampled_from(PROTOCOLS), "capabilities": json_values,
                               "clientInfo": json_values}),
        json_values,
    ))
    if draw(st.booleans()) and isinstance(params, dict):
        params["_meta"] = {"io.modelcontextprotocol/protocolVersion": draw(st.sampled_from(PROTOCOLS)),
                           "io.modelcontextprotocol/clientCapabilities": draw(json_values)}
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(("2.0", "1.0", 2))), "method": method, "params": params}
    if draw(st.booleans()):
        message["id"] = draw(st.integers() | st.text(max_size=10) | json_values)
    shape = draw(st.sampled_from(("one", "batch", "huge", "deep", "drop")))
    if shape == "batch":
        return json.dumps([message, message]).encode()
    if shape == "huge":
        message["params"] = {"name": "echo", "arguments": {"text": "x" * draw(st.sampled_from((10_001, 600_000)))}}
    if shape == "deep":
        depth = draw(st.integers(30, 5000))
        return json.dumps(message)[:-1].encode() + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    if shape == "drop":
        message.pop(draw(st.sampled_from(("jsonrpc", "method", "params"))))
    return json.dumps(message).encode()


bodies = st.one_of(
    jsonrpc_bodies(),
    st.binary(max_size=300),
    st.just(b"\xff\xfe{\"jsonrpc\": \"2.0\", \"method\": \"ping\", \"id\": 1}\xc3\x28"),
    st.just(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo\xed\xa0\x80"}}'),
    st.just(b""),
    st.just(b"[" * 100_000),
    st.just(b"x" * (1024 * 1024 + 10)),
)
content_types = st.sampled_from((
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "text/event-stream",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonx",
))
accepts = st.sampled_from(("application/json, text/event-stream", "application/json", "text/event-stream", "*/*",
                           "text/html", ""))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.just("/mcp") | st.sampled_from(ROUTES) | st.sampled_from(UNKNOWN))
    method = draw(st.sampled_from(("POST", "POST", "POST", "GET", "DELETE", "PUT", "OPTIONS", "HEAD", "PATCH")))
    headers: list[tuple[str, str]] = []
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(content_types)))
    else:
        headers.append(("Content-Type", "application/json"))
    headers.append(("Accept", draw(accepts)))
    if draw(st.booleans()):
        headers.append(("MCP-Protocol-Version", draw(st.sampled_from(PROTOCOLS) | header_text)))
    if draw(st.booleans()):
        headers.append(("Mcp-Method", draw(st.sampled_from(MCP_METHODS) | header_text)))
    if draw(st.booleans()):
        headers.append(("Mcp-Name", draw(st.sampled_from(TOOL_NAMES) | header_text)))
    for name in draw(st.lists(st.sampled_from(("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name", "Content-Type",
                                               "Authorization", "X-API-Key")), max_size=2)):
        headers.append((name, draw(header_text)))  # duplicates of headers that may already be there
    if draw(st.integers(0, 11)) == 0:
        headers.append(("Host", draw(st.sampled_from(("evil.test", "127.0.0.1:1", "localhost", "")))))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("X-Padding", "p" * draw(st.sampled_from((8_000, 17_000, 60_000)))))
    if draw(st.integers(0, 5)) == 0:
        headers.append(("Origin", draw(st.sampled_from(("http://evil.test", "null", "http://127.0.0.1", "<own>")))))
    return {"path": path, "method": method, "headers": headers, "body": draw(bodies),
            "who": draw(st.sampled_from(("alice", "bob", "none", "garbage", "expired", "other_audience", "api_key")))}


@pytest.fixture
def fuzz_target(start_function, credential_stack, seed_user):
    fn = start_function(**credential_stack.env(MCP_AUTH_TOOL_TIMEOUT="3"))
    alice, bob = (f"fuzz-{name}-{uuid.uuid4().hex[:10]}" for name in ("alice", "bob"))
    return fn, alice, bob


async def _create_users(seed_user, *uids: str) -> None:
    for uid in uids:
        toolsets = frozenset({"basics", "github", "notes"})
        record = UserRecord(uid=uid, toolsets=toolsets, scopes=frozenset(SCOPES.split()))
        await seed_user(record)


def _seed_notes(fn, users: dict[str, str], mint) -> None:
    """One note per user whose title is the user's id: any cross-user leak of notes names the other user."""
    for uid in users.values():
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "create_note", "arguments": {"title": f"note of {uid}", "body": uid},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}}
        response = httpx.post(fn.url, json=body, timeout=30, headers={
            "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call", "Mcp-Name": "create_note",
            "Authorization": "Bearer " + mint(uid, audience=fn.url, scopes=SCOPES)})
        assert response.status_code == 200 and uid in response.text and '"isError":false' in response.text


def _credential(who: str, *, fn, users: dict[str, str], mint) -> list[tuple[str, str]]:
    if who in users:
        return [("Authorization", "Bearer " + mint(users[who], audience=fn.url, scopes=SCOPES))]
    return {
        "none": [],
        "garbage": [("Authorization", "Bearer not.a.jwt")],
        "expired": [("Authorization", "Bearer " + mint(users["alice"], audience=fn.url, ttl=-120))],
        "other_audience": [("Authorization", "Bearer " + mint(users["alice"], audience="https://other.test/mcp"))],
        "api_key": [("X-API-Key", "mak_AAAAAAAA_" + "b" * 32)],
    }[who]


def check_answer(request: dict[str, Any], response: httpx.Response, users: dict[str, str]) -> None:
    where = f"{request['method']} {request['path']} as {request['who']}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    allowed = MCP_STATUSES if request["path"] in ("/mcp", "/mcp/") else ROUTE_STATUSES | {403}
    assert response.status_code in allowed, f"{where}: unexpected {response.status_code} {response.text[:300]}"
    if response.status_code == 401 and request["path"] in ("/mcp", "/mcp/"):
        assert response.headers.get("www-authenticate", "").startswith("Bearer "), where
    others = [uid for who, uid in users.items() if who != request["who"]]
    for uid in others:
        assert uid not in response.text, f"{where}: the answer names another user ({uid})"


async def test_random_requests_on_every_route_never_fail_hang_or_leak(fuzz_target, seed_user, watched_mint):
    fn, alice, bob = fuzz_target
    await _create_users(seed_user, alice, bob)
    users = {"alice": alice, "bob": bob}
    _seed_notes(fn, users, watched_mint)
    seen: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(request=requests())
    def one(request: dict[str, Any]) -> None:
        headers = [(k, fn.base if v == "<own>" else v) for k, v in request["headers"]]
        headers += [*_credential(request["who"], fn=fn, users=users, mint=watched_mint)]
        with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
            try:
                response = client.request(request["method"], fn.base + request["path"], headers=headers,
                                           content=request["body"])
            except httpx.RemoteProtocolError:
                # The HTTP server itself may drop a request it cannot parse (oversized headers); that
                # is a refusal, not a failure, as long as the server keeps serving (checked below).
                assert any(len(v) > 16_000 for _, v in request["headers"]), request["path"]
                return
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
        check_answer(request, response, users)

    one()
    print("fuzz statuses:", dict(sorted(seen.items())))
    assert httpx.get(fn.base + "/healthz", timeout=5).status_code == 200
    assert server_errors(fn.output()) == []


@st.composite
def authenticated_mcp_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed envelope (right Host, JSON, a valid token) around a hostile JSON-RPC message."""
    headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
    for name, values in (("MCP-Protocol-Version", PROTOCOLS), ("Mcp-Method", MCP_METHODS), ("Mcp-Name", TOOL_NAMES)):
        for _ in range(draw(st.integers(0, 2))):
            headers.append((name, draw(st.sampled_from(values) | header_text)))
    body = draw(jsonrpc_bodies() | st.builds(lambda name, args, proto: json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": name, "arguments": args,
            "_meta": {"io.modelcontextprotocol/protocolVersion": proto,
                      "io.modelcontextprotocol/clientCapabilities": {}}}}).encode(),
        st.sampled_from(TOOL_NAMES), st.dictionaries(st.sampled_from(ARGUMENT_NAMES), json_values | st.just(20),
                                                     max_size=3), st.sampled_from(PROTOCOLS)))
    return {"path": "/mcp", "method": "POST", "headers": headers, "body": body,
            "who": draw(st.sampled_from(("alice", "bob")))}


def _tool_results(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a JSON or SSE answer."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        payloads = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    else:
        payloads = [text] if text else []
    messages = []
    for payload in payloads:
        try:
            value = json.loads(payload)
        except ValueError:
            continue
        messages.extend(value if isinstance(value, list) else [value])
    return [m for m in messages if isinstance(m, dict)]


async def test_hostile_json_rpc_from_signed_in_users_is_answered_for_the_caller_only(
    fuzz_target, seed_user, watched_mint
):
    fn, alice, bob = fuzz_target
    await _create_users(seed_user, alice, bob)
    users = {"alice": alice, "bob": bob}
    _seed_notes(fn, users, watched_mint)
    tokens = {who: watched_mint(uid, audience=fn.url, ttl=3600, scopes=SCOPES) for who, uid in users.items()}
    seen: dict[int, int] = {}
    answered_whoami = [0]

    @settings(max_examples=DEEP_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(request=authenticated_mcp_requests())
    def one(request: dict[str, Any]) -> None:
        headers = [*request["headers"], ("Authorization", "Bearer " + tokens[request["who"]])]
        with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
            response = client.post(fn.url, headers=headers, content=request["body"])
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        check_answer(request, response, users)
        for message in _tool_results(response):
            content = (message.get("result") or {}).get("structuredContent") or {}
            if "user_id" in content:
                answered_whoami[0] += 1
                assert content["user_id"] == users[request["who"]]

    one()
    print("signed-in fuzz statuses:", dict(sorted(seen.items())), "whoami answers:", answered_whoami[0])
    assert seen.get(200, 0) > 0  # the generator reaches the tools, not only the refusals
    assert server_errors(fn.output()) == []
