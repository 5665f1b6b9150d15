"""The HTTP surface: challenges, status codes and metadata, with raw requests."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest

from factory import FACTORY
from tests._fixtures.http import authorization, challenge, mcp_request, post_mcp


def test_no_token_is_challenged_with_resource_metadata(function_server):
    r = post_mcp(function_server.url)
    assert r.status_code == 401
    params = challenge(r)
    assert params["resource_metadata"] == f"{function_server.base}/.well-known/oauth-protected-resource/mcp"
    assert params["scope"] == " ".join(sorted(FACTORY.scopes))  # every scope the toolsets use
    assert "error" not in params  # RFC 6750 §3.1: no error code when no credential was sent
    assert r.headers["cache-control"] == "no-store"


def _forged(function_server, mint, user: str, case: str) -> str:
    url = function_server.url
    now = int(time.time())
    if case == "wrong_signature":
        return jwt.encode(
            {"iss": "https://issuer.test/", "aud": url, "sub": user, "exp": now + 60}, b"x" * 48, algorithm="HS256"
        )
    if case == "expired":
        return mint(user, audience=url, exp=now - 120, iat=now - 720)
    if case == "wrong_audience":
        return mint(user, audience="https://other.example/mcp")
    if case == "wrong_issuer":
        return mint(user, audience=url, iss="https://evil.example/")
    if case == "alg_none":
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        body = (
            base64.urlsafe_b64encode(
                json.dumps({"iss": "https://issuer.test/", "aud": url, "sub": user, "exp": now + 60}).encode()
            )
            .rstrip(b"=")
            .decode()
        )
        return f"{header}.{body}."
    if case == "garbage":
        return "not-a-jwt"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["wrong_signature", "expired", "wrong_audience", "wrong_issuer", "alg_none", "garbage"]
)
async def test_bad_tokens_get_401_invalid_token(function_server, make_user, mint, case):
    user = await make_user()
    r = post_mcp(function_server.url, token=_forged(function_server, mint, user.uid, case))
    assert r.status_code == 401, r.text
    assert challenge(r)["error"] == "invalid_token"
    body = r.json()
    assert body["error"] == "invalid_token" and body["error_description"]


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    x y", "bearer", "Token abc", "Bearer a\tb"]
)
def test_malformed_authorization_header_gets_401(function_server, authorization):
    r = post_mcp(function_server.url, headers={"Authorization": authorization})
    assert r.status_code == 401
    assert challenge(r)["error"] == "invalid_token"


async def test_duplicated_authorization_headers_are_rejected(function_server, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url)
    request = mcp_request()
    headers = [*request["headers"].items(), *authorization(token).items(), *authorization(token).items()]
    r = httpx.post(function_server.url, content=request["content"], headers=headers, timeout=30)
    assert r.status_code == 401
    assert "exactly one" in r.json()["error_description"]


async def test_disabled_user_gets_403(function_server, make_user, mint):
    user = await make_user(status="disabled")
    r = post_mcp(function_server.url, token=mint(user.uid, audience=function_server.url))
    assert r.status_code == 403
    assert r.json()["error"] == "disabled_user"


def test_unknown_user_is_rejected_when_first_login_rejects(function_server, mint):
    r = post_mcp(function_server.url, token=mint("nobody-registered", audience=function_server.url))
    assert r.status_code == 403
    assert r.json()["error"] == "unknown_user"


async def test_first_login_create_makes_a_record_with_defaults(start_function, mint, user_repo):
    server = start_function(
        MCP_AUTH_FIRST_LOGIN="create", MCP_AUTH_DEFAULT_TOOLSETS="basics", MCP_AUTH_DEFAULT_SCOPES="mcp:tools"
    )
    uid = f"newcomer-{time.time_ns()}"
    r = post_mcp(server.url, token=mint(uid, audience=server.url))
    assert r.status_code == 200, r.text
    assert "whoami" in r.text
    record = await user_repo.get(uid)
    assert record is not None and record.toolsets == {"basics"} and record.scopes == {"mcp:tools"}


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "PATCH"])
def test_other_methods_on_the_mcp_path_get_405(function_server, method):
    r = httpx.request(method, function_server.url, headers={"Accept": "text/event-stream"}, timeout=10)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"


@pytest.mark.parametrize("path", ["/nope", "/mcp/extra", "/.well-known/other", "/../etc/passwd", "//"])
def test_unknown_routes_get_404(function_server, path):
    r = httpx.get(function_server.base + path, timeout=10)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


def test_the_origin_answers_with_the_resource_it_serves(function_server):
    r = httpx.get(function_server.base + "/", timeout=10)
    assert r.status_code == 200
    assert r.json()["resource"] == function_server.url


async def test_malformed_json_is_a_jsonrpc_parse_error(function_server, make_user, mint):
    user = await make_user()
    token = mint(user.uid, audience=function_server.url)
    for version in ("2025-11-25", "2026-07-28"):
        r = post_mcp(
            function_server.url,
            token=token,
            content=b'{"jsonrpc": "2.0", "id": 1, "method": ',
            headers={"MCP-Protocol-Version": version},
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == -32700


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"])
def test_protected_resource_metadata_is_served(function_server, path):
    r = httpx.get(function_server.base + path, timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["resource"] == function_server.url
    assert "authorization_servers" not in doc  # HS256 tokens minted for the tests: no issuer to sign in at
    assert doc["scopes_supported"] == sorted(FACTORY.scopes)  # derived from the toolsets the function serves
    assert {"mcp:tools", "notes:read", "notes:write", "profile:write"} <= set(doc["scopes_supported"])
    assert doc["bearer_methods_supported"] == ["header"]


@pytest.mark.parametrize("path", ["/mcp", "/.well-known/oauth-protected-resource"])
def test_wrong_host_is_misdirected(function_server, path):
    r = httpx.get(function_server.base + path, headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code == 421


def test_liveness_answers_any_host_and_reveals_nothing(function_server):
    r = httpx.get(function_server.base + "/healthz", headers={"Host": "10.0.0.1:8080"}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_foreign_origin_is_forbidden(function_server):
    r = post_mcp(function_server.url, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden_origin"


def test_oversized_body_is_refused(function_server, mint):
    r = post_mcp(
        function_server.url,
        token=mint("someone", audience=function_server.url),
        content=b'{"pad": "' + b"x" * 2_000_000 + b'"}',
    )
    assert r.status_code in (403, 413)
