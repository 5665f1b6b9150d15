"""MCP_AUTH_OTEL_EXPORTER=gcp: a real function process writes its spans to a loopback stand-in for the
Cloud Trace API (TraceService.BatchWriteSpans over gRPC, decoded with google-cloud-trace's own message
classes), no collector between them.

The request signs in with an RS256 token, so the function fetches the issuer's keys from a loopback
JWKS server: that fetch is a CLIENT span below the request's SERVER span, in the same trace, and the
JWKS server receives its ``traceparent``. No token, key or header value is in anything written.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.cloud.trace_v2.types import BatchWriteSpansRequest
from google.protobuf import empty_pb2

from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.function_server import ISSUER
from tests._fixtures.http import post_mcp

SERVER, CLIENT = 2, 3  # google.devtools.cloudtrace.v2.Span.SpanKind


class CloudTraceStandIn:
    """google.devtools.cloudtrace.v2.TraceService on loopback: BatchWriteSpans is recorded, answered Empty."""

    def __init__(self) -> None:
        self.requests: list[BatchWriteSpansRequest] = []
        self.raw: list[bytes] = []
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        method = grpc.unary_unary_rpc_method_handler(
            self._write, request_deserializer=self._decode, response_serializer=empty_pb2.Empty.SerializeToString
        )
        service = grpc.method_handlers_generic_handler(
            "google.devtools.cloudtrace.v2.TraceService", {"BatchWriteSpans": method}
        )
        self.server.add_generic_rpc_handlers((service,))
        self.endpoint = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def _decode(self, raw: bytes) -> BatchWriteSpansRequest:
        with self.lock:
            self.raw.append(raw)
        return BatchWriteSpansRequest.deserialize(raw)

    def _write(self, request: BatchWriteSpansRequest, context: Any) -> empty_pb2.Empty:
        with self.lock:
            self.requests.append(request)
        return empty_pb2.Empty()

    def spans(self) -> list[dict[str, Any]]:
        """Every span written so far, with its ids taken from its resource name."""
        with self.lock:
            requests = list(self.requests)
        out = []
        for request in requests:
            for span in request.spans:
                _, project, _, trace_id, _, span_id = span.name.split("/")
                out.append(
                    {
                        "batch": request.name,
                        "project": project,
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "parent_span_id": span.parent_span_id,
                        "name": span.display_name.value,
                        "kind": int(span.span_kind),
                        "attributes": {k: _value(v) for k, v in span.attributes.attribute_map.items()},
                    }
                )
        return out

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.spans() if predicate(s)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def _value(value: Any) -> Any:
    kind = type(value).pb(value).WhichOneof("value")
    return value.string_value.value if kind == "string_value" else getattr(value, kind)


@pytest.fixture
def cloud_trace() -> Iterator[CloudTraceStandIn]:
    stand_in = CloudTraceStandIn()
    stand_in.server.start()
    yield stand_in
    stand_in.server.stop(grace=None)


class JwksServer(ThreadingHTTPServer):
    """The issuer's JWKS on loopback; records the headers of each fetch."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _JwksHandler)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
        self.fetches: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/jwks"


class _JwksHandler(BaseHTTPRequestHandler):
    server: JwksServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fetches.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _cloud_trace_env(stand_in: CloudTraceStandIn, jwks: JwksServer) -> dict[str, str | None]:
    return {
        "MCP_AUTH_OTEL_EXPORTER": "gcp",
        "MCP_AUTH_CLOUD_TRACE_ENDPOINT": stand_in.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "MCP_AUTH_JWT_HS256_KEY": None,
        "MCP_AUTH_JWT_JWKS_URL": jwks.url,
    }


async def test_a_request_and_its_outbound_call_reach_cloud_trace_as_one_trace(
    cloud_trace, jwks_server, start_function, make_user
):
    server = start_function(**_cloud_trace_env(cloud_trace, jwks_server))
    user = await make_user()
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": server.url, "sub": user.uid, "scope": "mcp:tools", "iat": now, "exp": now + 600}
    token = jwt.encode(claims, jwks_server.key, algorithm="RS256", headers={"kid": "k1"})
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    answer = post_mcp(
        server.url,
        "tools/call",
        {"name": "echo", "arguments": {"text": "to Cloud Trace"}},
        token=token,
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    assert answer.status_code == 200, answer.text

    [request] = await asyncio.to_thread(
        cloud_trace.wait_for, lambda s: s["name"] == "POST /mcp" and s["attributes"].get("gen_ai.tool.name") == "echo"
    )
    assert request["batch"] == f"projects/{TEST_PROJECT}" and request["project"] == TEST_PROJECT
    assert request["kind"] == SERVER and request["trace_id"] == trace_id
    assert request["parent_span_id"] == parent_id
    assert request["attributes"]["enduser.id"] == user.uid
    assert request["attributes"]["mcp_auth.auth.method"] == "jwt"

    [fetch] = await asyncio.to_thread(
        cloud_trace.wait_for, lambda s: s["kind"] == CLIENT and s["attributes"].get("url.full") == jwks_server.url
    )
    assert fetch["name"] == "GET" and fetch["trace_id"] == trace_id
    assert fetch["parent_span_id"] == request["span_id"]  # the key fetch happens while the request authenticates
    attributes = fetch["attributes"]
    assert attributes["url.full"] == jwks_server.url and attributes["server.address"] == "127.0.0.1"
    assert attributes["http.request.method"] == "GET" and attributes["http.response.status_code"] == 200
    assert "error.type" not in attributes
    sdk = await asyncio.to_thread(cloud_trace.wait_for, lambda s: s["name"] == "tools/call echo")
    assert [(s["trace_id"], s["parent_span_id"]) for s in sdk] == [(trace_id, request["span_id"])]
    # the cold instance's reads of the user record and the layout (Firestore's REST API) are in the same trace
    reads = await asyncio.to_thread(
        cloud_trace.wait_for,
        lambda s: s["kind"] == CLIENT and "/documents/users/" in s["attributes"].get("url.full", ""),
    )
    assert [(s["name"], s["trace_id"]) for s in reads] == [("GET", trace_id)]

    [headers] = jwks_server.fetches
    assert headers["traceparent"].startswith(f"00-{trace_id}-{fetch['span_id']}-")
    assert "authorization" not in headers

    written = b"".join(cloud_trace.raw)
    private = jwks_server.key.private_numbers()
    for secret in (token, token.split(".")[2], str(private.d)):
        assert secret.encode() not in written
    assert b"Bearer" not in written and b"authorization" not in written.lower()


def test_a_function_without_a_usable_project_does_not_start(cloud_trace, jwks_server, start_function):
    with pytest.raises(RuntimeError) as caught:
        start_function(**_cloud_trace_env(cloud_trace, jwks_server), GOOGLE_CLOUD_PROJECT="Not A Project")
    assert "MCP_AUTH_OTEL_EXPORTER=gcp needs a Google Cloud project id" in str(caught.value)
