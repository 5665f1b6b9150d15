"""Hypothesis-generated HTTP requests on every route the app serves.

The first two tests run a real function subprocess. Each example is one request: a route (the
MCP endpoint, both metadata paths, the health routes, the credential webhook, unknown paths), a
method, a body (random JSON-RPC shapes, wrong types, huge and deeply nested values, invalid
UTF-8, random bytes), a content type and a set of headers (protocol versions,
``Mcp-Method``/``Mcp-Name`` that may contradict the body, duplicated and oversized headers), sent
with no credential, a garbage one, or the valid token of one of two users.

The last test turns the built-in authorization server on (the app in this process behind
uvicorn, the emulators behind it) and sends requests to every path the app reports serving
(``McpAuthApp.router.paths``: every ``/oauth/*`` route, every ``/.well-known/*`` document, the
credential webhook, the connect pages of a GitHub connection, the MCP endpoint, ``/healthz``,
``/readyz``) and to unknown paths: OAuth
parameters and forms with hostile values (client ids that are URLs with impossible ports, hold
``/`` or are too long, metadata documents nested thousands deep, non-ASCII PKCE values and
states), registration JSON of any shape and depth, random bytes. A fixed corpus goes first: a
plain GET of every path, well-formed requests that succeed, and every request that once made
a route fail; then each path gets its share of generated examples.

Invariants, for every example: an answer within a bounded time, never a 5xx, always a status
the route may give, a challenge with every 401, and never the other user's id in the answer.
``HARDENING_FUZZ_EXAMPLES`` sets the number of examples (defaults 150, 100 and 150).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_auth.devtools.emulator import free_port
from mcp_auth.store.users import UserRecord
from tests._fixtures.oauth import random_64
from tests.hardening.logscan import server_errors

EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "150"))
DEEP_EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "100"))
OAUTH_EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "150"))
MCP_STATUSES = {200, 202, 204, 400, 401, 403, 404, 405, 406, 413, 415, 421, 422, 429, 431}
ROUTE_STATUSES = {200, 204, 400, 401, 404, 405, 413, 415, 421, 429, 431}
WEBHOOK = "/api/webhooks/credential-updated"
ROUTES = (
    "/",
    "/mcp",
    "/mcp/",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/healthz",
    "/readyz",
    WEBHOOK,
)
UNKNOWN = ("//", "/unknown", "/mcp/extra", "/MCP", "/.well-known/x", "/%2e%2e/mcp", "/api/webhooks/")
PROTOCOLS = ("2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "1999-01-01", "", "garbage")
MCP_METHODS = (
    "initialize",
    "tools/list",
    "tools/call",
    "server/discover",
    "ping",
    "resources/list",
    "notifications/initialized",
    "prompts/get",
    "completion/complete",
    "x/unknown",
)
TOOL_NAMES = (
    "whoami",
    "echo",
    "echo_with_progress",
    "list_my_repositories",
    "create_note",
    "list_notes",
    "get_note",
    "search_notes",
    "nope",
    "",
    "../../etc",
)
SCOPES = "mcp:tools notes:read notes:write"
ARGUMENT_NAMES = ("text", "steps", "delay", "x", "title", "body", "tags", "id", "limit", "cursor", "query", "tag")

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def jsonrpc_bodies(draw: st.DrawFn) -> bytes:
    """JSON-RPC-ish messages: right and wrong types in every field, sometimes huge or deep."""
    method = draw(st.sampled_from(MCP_METHODS) | json_values)
    params: Any = draw(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(TOOL_NAMES) | json_values,
                    "arguments": st.dictionaries(st.sampled_from(ARGUMENT_NAMES), json_values, max_size=3)
                    | json_values,
                }
            ),
            st.fixed_dictionaries(
                {"protocolVersion": st.sampled_from(PROTOCOLS), "capabilities": json_values, "clientInfo": json_values}
            ),
            json_values,
        )
    )
    if draw(st.booleans()) and isinstance(params, dict):
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": draw(st.sampled_from(PROTOCOLS)),
            "io.modelcontextprotocol/clientCapabilities": draw(json_values),
        }
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
    st.just(b'\xff\xfe{"jsonrpc": "2.0", "method": "ping", "id": 1}\xc3\x28'),
    st.just(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo\xed\xa0\x80"}}'),
    st.just(b""),
    st.just(b"[" * 100_000),
    st.just(b"x" * (1024 * 1024 + 10)),
)
content_types = st.sampled_from(
    (
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "text/event-stream",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/jsonx",
    )
)
accepts = st.sampled_from(
    ("application/json, text/event-stream", "application/json", "text/event-stream", "*/*", "text/html", "")
)


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
    for name in draw(
        st.lists(
            st.sampled_from(
                ("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name", "Content-Type", "Authorization", "X-API-Key")
            ),
            max_size=2,
        )
    ):
        headers.append((name, draw(header_text)))  # duplicates of headers that may already be there
    if draw(st.integers(0, 11)) == 0:
        headers.append(("Host", draw(st.sampled_from(("evil.test", "127.0.0.1:1", "localhost", "")))))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("X-Padding", "p" * draw(st.sampled_from((8_000, 17_000, 60_000)))))
    if draw(st.integers(0, 5)) == 0:
        headers.append(("Origin", draw(st.sampled_from(("http://evil.test", "null", "http://127.0.0.1", "<own>")))))
    return {
        "path": path,
        "method": method,
        "headers": headers,
        "body": draw(bodies),
        "who": draw(st.sampled_from(("alice", "bob", "none", "garbage", "expired", "other_audience", "api_key"))),
    }


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
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "create_note",
                "arguments": {"title": f"note of {uid}", "body": uid},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        response = httpx.post(
            fn.url,
            json=body,
            timeout=30,
            headers={
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": "create_note",
                "Authorization": "Bearer " + mint(uid, audience=fn.url, scopes=SCOPES),
            },
        )
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

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
    @given(request=requests())
    def one(request: dict[str, Any]) -> None:
        headers = [(k, fn.base if v == "<own>" else v) for k, v in request["headers"]]
        headers += [*_credential(request["who"], fn=fn, users=users, mint=watched_mint)]
        with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
            try:
                response = client.request(
                    request["method"], fn.base + request["path"], headers=headers, content=request["body"]
                )
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
    body = draw(
        jsonrpc_bodies()
        | st.builds(
            lambda name, args, proto: json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {
                        "name": name,
                        "arguments": args,
                        "_meta": {
                            "io.modelcontextprotocol/protocolVersion": proto,
                            "io.modelcontextprotocol/clientCapabilities": {},
                        },
                    },
                }
            ).encode(),
            st.sampled_from(TOOL_NAMES),
            st.dictionaries(st.sampled_from(ARGUMENT_NAMES), json_values | st.just(20), max_size=3),
            st.sampled_from(PROTOCOLS),
        )
    )
    return {
        "path": "/mcp",
        "method": "POST",
        "headers": headers,
        "body": body,
        "who": draw(st.sampled_from(("alice", "bob"))),
    }


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

    @settings(
        max_examples=DEEP_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
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


# -- every route with the built-in authorization server on ---------------------------------------------------
OAUTH_STATUSES = {200, 201, 204, 302, 400, 401, 403, 404, 405, 413, 415, 421, 429, 431}
SERVED_WITH_OAUTH = {
    "/",
    "/mcp",
    "/healthz",
    "/readyz",
    WEBHOOK,
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/oauth/jwks",
    "/oauth/register",
    "/oauth/authorize",
    "/oauth/callback",
    "/oauth/consent",
    "/oauth/token",
    "/oauth/revoke",
    "/connect/github",
    "/connect/github/callback",
}
POSTED = {"/mcp", WEBHOOK, "/oauth/register", "/oauth/consent", "/oauth/token", "/oauth/revoke", "/connect/github"}
OAUTH_UNKNOWN = ("/oauth", "/oauth/", "/oauth/authorize/", "/oauth/unknown", "/.well-known/", "/OAUTH/TOKEN")
HOSTILE_CLIENT_IDS = (
    "https://client.example:99999/x",
    "https://client.example:0/x",
    "https://[::1/x",
    "https://client.example/",
    "a/b",
    "__reserved__",
    "..",
    "x" * 2001,
    "x" * 1600,
    "mcp-" + "a" * 24,
    "é",
    "",
    "https://10.0.0.1/c.json",
    "https://user:pw@client.example/c.json",
    "https://client.example/c.json#f",
    "http://client.example/c.json",
)
HOSTILE_URIS = (
    "https://app.example:99999/cb",
    "https://[::1/cb",
    "javascript:alert(1)",
    "http://evil.example/cb",
    "com.example.app:/cb",
    "https://app.example/cb#x",
    "",
    "é",
    "https://" + "a" * 2100,
)
PKCE_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (in the middle of the range: Hypothesis favours its ends)."""
    return st.sampled_from((False,) * (n // 2) + (True,) + (False,) * (n - 1 - n // 2))


cookie_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,\\"'), max_size=50
) | st.just("%C3%A9")
oauth_text = st.text(max_size=60) | st.sampled_from(("é" * 43, "a" * 43, "a" * 129, "\x00", "%00", "../"))


@st.composite
def oauth_requests(
    draw: st.DrawFn,
    paths: tuple[str, ...],
    client_ids: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    addresses: tuple[str, ...],
) -> dict[str, Any]:
    """A request to one of ``paths`` from one of ``addresses`` (``X-Forwarded-For``): OAuth query
    parameters, a form or JSON, hostile values."""
    path = draw(st.sampled_from(paths))
    usual = "POST" if path in POSTED else "GET"
    method = draw(st.sampled_from((usual,) * 6 + ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS")))
    value = {
        "client_id": st.sampled_from(client_ids) | st.sampled_from(HOSTILE_CLIENT_IDS) | oauth_text,
        "redirect_uri": st.sampled_from(redirect_uris) | st.sampled_from(HOSTILE_URIS) | oauth_text,
        "response_type": st.sampled_from(("code", "token", "")) | oauth_text,
        "code_challenge": oauth_text,
        "code_challenge_method": st.sampled_from(("S256", "plain", "")),
        "state": oauth_text,
        "scope": oauth_text,
        "resource": oauth_text,
        "code": oauth_text,
        "grant_type": st.sampled_from(("authorization_code", "refresh_token", "client_credentials")) | oauth_text,
        "code_verifier": oauth_text,
        "refresh_token": oauth_text,
        "token": oauth_text,
        "approval": oauth_text,
        "decision": st.sampled_from(("allow", "deny")) | oauth_text,
        "error": oauth_text,
        "link": oauth_text | st.sampled_from(("a.b", "." * 3, "a" * 1100, "eyJ1Ijoi.AAAA")),
        "confirm": oauth_text,
    }
    baseline = (
        {  # a well-formed request for the path, which the drawn parameters then change or repeat
            "/oauth/authorize": {
                "response_type": "code",
                "client_id": draw(st.sampled_from(client_ids)),
                "redirect_uri": redirect_uris[0],
                "code_challenge": PKCE_CHALLENGE,
                "code_challenge_method": "S256",
                "state": "s",
            },
            "/oauth/token": {
                "grant_type": "authorization_code",
                "code": "c",
                "client_id": client_ids[0],
                "code_verifier": "v" * 43,
                "redirect_uri": redirect_uris[0],
            },
            "/oauth/revoke": {"token": "t", "client_id": client_ids[0]},
            "/oauth/consent": {"approval": "a", "decision": "allow"},
            "/oauth/callback": {"state": "s", "code": "c"},
            "/connect/github": {"link": "a.b", "confirm": "c"},
            "/connect/github/callback": {"state": "a.b", "code": "c"},
        }.get(path, {})
        if draw(st.booleans())
        else {}
    )
    names = draw(st.lists(st.sampled_from(sorted(value)), max_size=6))
    pairs = list(baseline.items()) if draw(st.booleans()) else []
    pairs = [p for p in pairs if p[0] not in names] + [(name, draw(value[name])) for name in names]
    query = urlencode(pairs) if draw(st.booleans()) else ""
    registration = st.fixed_dictionaries(
        {
            "redirect_uris": st.lists(st.sampled_from(redirect_uris), min_size=1, max_size=2)
            | st.lists(st.sampled_from(HOSTILE_URIS) | json_values, max_size=3)
            | json_values
        },
        optional={
            "client_name": oauth_text | json_values,
            "grant_types": json_values,
            "response_types": json_values,
            "token_endpoint_auth_method": json_values,
        },
    )
    bodies = st.one_of(
        st.tuples(st.just("application/x-www-form-urlencoded"), st.just(urlencode(pairs).encode())),
        st.tuples(st.just("application/json"), registration.map(lambda d: json.dumps(d).encode())),
        st.tuples(st.just("application/json"), st.sampled_from((b"[" * 8000, b'{"a": ' * 2000, b"\xff\xfe", b""))),
        st.tuples(content_types, st.binary(max_size=200)),
        st.tuples(st.just("application/x-www-form-urlencoded"), st.just(b"a=" + b"x" * 20_000)),
    )
    if method in ("GET", "HEAD") and not draw(one_in(5)):
        bodies = st.tuples(st.sampled_from(("", "application/json")), st.just(b""))
    kind, body = draw(bodies)
    headers = [("Content-Type", kind), ("X-Forwarded-For", draw(st.sampled_from(addresses)))]
    if draw(st.booleans()):
        cookie = draw(st.sampled_from(("mcp_auth_signin", "mcp_connect_confirm", "mcp_connect_github")))
        headers.append(("Cookie", f"{cookie}={draw(cookie_values)}"))
    if draw(one_in(6)):
        headers.append(("Authorization", draw(st.sampled_from(("Basic Zm9vOmJhcg==", "Bearer x", "")))))
    if draw(one_in(16)):
        headers.append(("Origin", draw(st.sampled_from(("http://evil.test", "null", "<own>")))))
    return {"path": path, "method": method, "query": query, "headers": headers, "body": body}


@pytest.fixture
def oauth_fuzz_target(oauth_app, credential_stack, secret_manager, fake_github_oauth):
    port = free_port()
    names = f"projects/{secret_manager.project}/secrets"
    secret_manager.create_secret("connect-github", fake_github_oauth.client_secret.encode())
    secret_manager.create_secret("connections-key", secrets.token_bytes(32))
    secret_manager.create_secret("connect-link-key", secrets.token_bytes(32))
    deployment = oauth_app(
        **credential_stack.env(
            MCP_AUTH_CONNECTIONS=json.dumps([fake_github_oauth.provider(f"{names}/connect-github")]),
            MCP_AUTH_CONNECTIONS_KEY_SECRET=f"{names}/connections-key",
            MCP_AUTH_CONNECT_LINK_KEY_SECRET=f"{names}/connect-link-key",
            MCP_AUTH_RESOURCE_URL=f"http://127.0.0.1:{port}/mcp",
            MCP_AUTH_OAUTH_AUTHORIZE_RATE="10000",
            MCP_AUTH_OAUTH_TOKEN_RATE="10000",
            MCP_AUTH_OAUTH_REGISTRATION_RATE="1000",
            MCP_AUTH_RATE_LIMIT_IP="off",
            MCP_AUTH_FIRST_LOGIN="reject",
        )
    )
    with deployment.serve(port) as base:
        yield deployment, base


def _corpus(
    paths: frozenset[str], client_ids: tuple[str, ...], redirect: str, deep: str, address: str
) -> list[dict[str, Any]]:
    """A plain GET of every path, well-formed requests that succeed, and requests that once made a
    route fail (and their neighbours), all from ``address``: each must get a clear answer."""
    sender = ("X-Forwarded-For", address)

    def authorize(client_id: str, **changed: str) -> dict[str, Any]:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect,
                "code_challenge": PKCE_CHALLENGE,
                "code_challenge_method": "S256",
                **changed,
            }
        )
        return {"path": "/oauth/authorize", "method": "GET", "query": query, "headers": [sender], "body": b""}

    def post(path: str, body: bytes, content_type: str = "application/json") -> dict[str, Any]:
        return {
            "path": path,
            "method": "POST",
            "query": "",
            "headers": [("Content-Type", content_type), sender],
            "body": body,
        }

    return [
        *({"path": path, "method": "GET", "query": "", "headers": [sender], "body": b""} for path in (*paths, "/nope")),
        *(authorize(client_id) for client_id in (*client_ids, *HOSTILE_CLIENT_IDS, deep)),
        post("/oauth/register", json.dumps({"redirect_uris": [redirect], "client_name": "x"}).encode()),
        post("/oauth/consent", b"approval=" + b"a" * 5000, "application/x-www-form-urlencoded"),
        post("/connect/github", b"link=" + b"a" * 5000, "application/x-www-form-urlencoded"),
        post("/connect/github", b"link=%C3%A9&confirm=%00", "application/x-www-form-urlencoded"),
        {
            "path": "/connect/github/callback",
            "method": "GET",
            "query": "state=%C3%A9&code=c&state=x",
            "body": b"",
            "headers": [("Cookie", "mcp_connect_github=%C3%A9"), sender],
        },
        *(post("/oauth/register", body) for body in (b"[" * 8000, b'{"a": ' * 2000, b"\xff\xfe", b"[1, 2")),
        *(post("/oauth/register", json.dumps({"redirect_uris": [uri]}).encode()) for uri in HOSTILE_URIS),
        post("/oauth/register", json.dumps({"redirect_uris": [redirect], "grant_types": [["x"]]}).encode()),
        {
            "path": "/oauth/callback",
            "method": "GET",
            "query": "state=%C3%A9&code=c",
            "body": b"",
            "headers": [("Cookie", "mcp_auth_signin=%C3%A9"), sender],
        },
        authorize(client_ids[0], code_challenge="é" * 43, state="é"),
    ]


def test_random_requests_on_every_route_of_the_authorization_server_never_fail(oauth_fuzz_target, caplog):
    deployment, base = oauth_fuzz_target
    served = frozenset(deployment.app.router.paths)
    assert served == SERVED_WITH_OAUTH, "a route was added: add it to SERVED_WITH_OAUTH"
    docs = deployment.documents
    redirect = "http://localhost:3030/cb"
    cimd = docs.publish("/c.json", {"client_id": docs.client_id("/c.json"), "redirect_uris": [redirect]})
    deep = docs.publish("/deep.json", b"[" * 2500 + b"]" * 2500)
    network = random_64()  # the addresses this test sends from: their limits are its own
    addresses = (
        f"{network}::1",
        f"{network}:1:2:3:4",
        f"::ffff:198.51.100.{secrets.randbelow(254) + 1}",
        "not-an-ip",
        f"198.51.100.7, {network}::5",
    )
    registered = httpx.post(
        f"{base}/oauth/register",
        json={"redirect_uris": [redirect]},
        timeout=10,
        headers={"X-Forwarded-For": addresses[0]},
    )
    assert registered.status_code == 201, registered.text
    client_ids = (registered.json()["client_id"], cimd)
    seen: dict[int, int] = {}

    def send(request: dict[str, Any]) -> None:
        headers = [(k, base if v == "<own>" else v) for k, v in request["headers"]]
        url = base + request["path"] + (f"?{request['query']}" if request["query"] else "")
        with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
            response = client.request(request["method"], url, headers=headers, content=request["body"])
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        where = f"{request['method']} {request['path']}?{request['query'][:200]}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        assert response.status_code in OAUTH_STATUSES, f"{where}: unexpected {response.status_code}"

    for request in _corpus(served, client_ids, redirect, deep, addresses[0]):
        send(request)
    assert {200, 201, 302, 400, 404, 405, 413} <= set(seen)  # the corpus reaches every kind of answer
    groups = [(path,) for path in sorted(served)] + [OAUTH_UNKNOWN]
    for paths in groups:  # every route gets its share of examples, whatever Hypothesis favours

        @settings(
            max_examples=max(5, OAUTH_EXAMPLES // len(groups)),
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(request=oauth_requests(paths, (*client_ids, deep), (redirect,), addresses))
        def one(request: dict[str, Any]) -> None:
            send(request)

        one()
    print("authorization server fuzz statuses:", dict(sorted(seen.items())))
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    unhandled = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and "Unhandled" in r.getMessage()]
    assert unhandled == []
