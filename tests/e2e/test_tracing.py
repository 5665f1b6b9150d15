"""OpenTelemetry traces (MCP_AUTH_OTEL_EXPORTER=otlp) from a real function process to a real OTLP/HTTP
receiver on loopback, which decodes each ExportTraceServiceRequest with opentelemetry-proto.

Spans arrive; the request's span continues the incoming ``traceparent``, names the user as
``enduser.id`` (and nobody when authentication failed), and parents the MCP SDK's own span; no
token appears anywhere in what is exported. Off: nothing imported, nothing exported.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.tracing import check_sampler, traces_endpoint
from tests._fixtures.function_server import ROOT
from tests._fixtures.http import authorization, post_mcp


class OtlpReceiver(ThreadingHTTPServer):
    """POST /v1/traces (application/x-protobuf), as an OpenTelemetry Collector's OTLP/HTTP receiver."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            self.bodies.append(body)
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "kind": span.kind,
                                "attributes": _attributes(span.attributes),
                                "resource": resource,
                                "scope": scope_spans.scope.name,
                            }
                        )

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [s for s in self.spans if predicate(s)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_response(404)
            self.end_headers()
            return
        self.server.receive(body)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        out[pair.key] = getattr(pair.value, kind) if kind else None
    return out


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


@asynccontextmanager
async def _client(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
        async with Client(streamable_http_client(url, http_client=http), raise_exceptions=True) as client:
            yield client


def _tracing_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "MCP_AUTH_OTEL_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "mcp-trace-test",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }


async def test_spans_name_the_user_continue_the_incoming_trace_and_parent_the_sdk_spans(
    otlp_receiver, start_function, make_user, mint
):
    server = start_function(**_tracing_env(otlp_receiver))
    user = await make_user()
    token = mint(user.uid, audience=server.url)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    headers = {**authorization(token), "traceparent": f"00-{trace_id}-{parent_id}-01"}
    async with _client(server.url, headers) as client:
        assert not (await client.call_tool("echo", {"text": "traced"})).is_error
    forged = token[:-4] + "AAAA"
    refused = post_mcp(server.url, token=forged)
    assert refused.status_code == 401

    [call] = await asyncio.to_thread(
        otlp_receiver.wait_for, lambda s: s["attributes"].get("gen_ai.tool.name") == "echo" and s["scope"] == "mcp_auth"
    )
    assert call["name"] == "POST /mcp" and call["kind"] == 2  # SPAN_KIND_SERVER
    assert call["trace_id"] == trace_id and call["parent_span_id"] == parent_id
    attributes = call["attributes"]
    assert attributes["enduser.id"] == user.uid
    assert attributes["http.request.method"] == "POST" and attributes["http.route"] == "/mcp"
    assert attributes["http.response.status_code"] == 200 and attributes["mcp.method.name"] == "tools/call"
    assert attributes["mcp_auth.auth.decision"] == "allowed" and attributes["mcp_auth.auth.method"] == "jwt"
    assert attributes["mcp_auth.outcome"] == "ok"
    assert call["resource"]["service.name"] == "mcp-trace-test"

    sdk = await asyncio.to_thread(otlp_receiver.wait_for, lambda s: s["name"] == "tools/call echo")
    assert [(s["trace_id"], s["parent_span_id"]) for s in sdk] == [(trace_id, call["span_id"])]

    [denied] = await asyncio.to_thread(
        otlp_receiver.wait_for, lambda s: s["attributes"].get("mcp_auth.auth.reason") == "invalid_token"
    )
    assert "enduser.id" not in denied["attributes"]
    assert denied["attributes"]["mcp_auth.auth.decision"] == "denied"
    assert denied["attributes"]["http.response.status_code"] == 401
    assert denied["trace_id"] != trace_id and denied["parent_span_id"] == ""  # no traceparent: a new trace
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    refused_lines = [e for e in lines if e.get("auth", {}).get("reason") == "invalid_token"]
    assert refused_lines[-1]["logging.googleapis.com/trace"].endswith(f"/traces/{denied['trace_id']}")
    assert refused_lines[-1]["logging.googleapis.com/spanId"] == denied["span_id"]
    [call_line] = [e for e in lines if e.get("mcp", {}).get("tool") == "echo"]  # the request's lines name its span
    assert call_line["logging.googleapis.com/trace"].endswith(f"/traces/{trace_id}")
    assert call_line["logging.googleapis.com/spanId"] == call["span_id"] != parent_id
    assert call_line["logging.googleapis.com/trace_sampled"] is True

    exported = b"".join(otlp_receiver.bodies)
    for secret in (token, forged, token.split(".")[2], server.env["MCP_AUTH_JWT_HS256_KEY"]):
        assert secret.encode() not in exported
    assert b"Bearer" not in exported and b"authorization" not in exported.lower()


async def test_with_tracing_off_nothing_is_exported(otlp_receiver, start_function, make_user, mint):
    server = start_function(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.url, OTEL_BSP_SCHEDULE_DELAY="50")
    user = await make_user()
    headers = {
        **authorization(mint(user.uid, audience=server.url)),
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
    }
    async with _client(server.url, headers) as client:
        assert not (await client.call_tool("echo", {"text": "untraced"})).is_error
    server.stop()  # an exporter would flush at exit
    assert otlp_receiver.bodies == []


#: What tracing brings; the OpenTelemetry API alone comes with the MCP SDK, which imports it itself.
_TRACING_MODULES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "opentelemetry.resourcedetector",
    "google.cloud.trace",
)


def _otel_modules_after_start(env: dict[str, str]) -> list[str]:
    """Import functions/main.py (building the app) in a fresh interpreter; the tracing modules loaded."""
    probe = (
        "import sys; sys.path.insert(0, 'functions'); import main; "
        f"print(sorted(m for m in sys.modules if m.startswith({_TRACING_MODULES!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_with_tracing_off_the_sdk_is_not_even_imported(function_env, otlp_receiver):
    env = {**function_env, "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:9/mcp"}
    assert _otel_modules_after_start(env) == []
    on = _otel_modules_after_start({**env, **_tracing_env(otlp_receiver)})
    assert "opentelemetry.sdk.trace" in on  # the probe sees the SDK when it is loaded
    assert "google.cloud.trace_v2" not in on
    gcp = _otel_modules_after_start(
        {**env, "MCP_AUTH_OTEL_EXPORTER": "gcp", "MCP_AUTH_CLOUD_TRACE_ENDPOINT": "127.0.0.1:9"}
    )
    assert {"opentelemetry.exporter.cloud_trace", "google.cloud.trace_v2"} <= set(gcp)
    assert "opentelemetry.exporter.otlp" not in gcp


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"MCP_AUTH_OTEL_EXPORTER": "jaeger"}, "MCP_AUTH_OTEL_EXPORTER must be one of none, otlp, gcp"),
        (
            {"MCP_AUTH_OTEL_EXPORTER": "otlp\x00" + "x" * 10_000},
            "MCP_AUTH_OTEL_EXPORTER must be one of none, otlp, gcp",
        ),
        (
            {"MCP_AUTH_OTEL_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"},
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        ({"MCP_AUTH_OTEL_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector"}, "http(s) URL"),
        (
            {"MCP_AUTH_OTEL_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://:4318/v1/traces"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ),
        ({"MCP_AUTH_OTEL_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/?token=x"}, "http(s) URL"),
        ({"MCP_AUTH_OTEL_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER must be one of"),
        (
            {"MCP_AUTH_OTEL_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
            "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1",
        ),
        (
            {
                "MCP_AUTH_OTEL_EXPORTER": "otlp",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "half",
            },
            "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1",
        ),
    ],
)
def test_bad_tracing_settings_are_refused_with_the_setting_named(env, needle):
    with pytest.raises(ConfigError) as caught:
        if _exporter(env) == "otlp":
            traces_endpoint(env)
            check_sampler(env)
    assert needle in str(caught.value) and len(str(caught.value)) < 400


def test_endpoints_follow_the_otlp_conventions():
    assert traces_endpoint({}) == "http://localhost:4318/v1/traces"
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example:4318/"}) == (
        "https://otel.example:4318/v1/traces"
    )
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/t"}) == (
        "http://c/t"
    )
    assert _exporter({}) == _exporter({"MCP_AUTH_OTEL_EXPORTER": ""}) == "none"
    assert _exporter({"MCP_AUTH_OTEL_EXPORTER": " OTLP "}) == "otlp"


def _exporter(env: dict[str, str]) -> str:
    """``MCP_AUTH_OTEL_EXPORTER`` as the settings read it (the OTEL_* variables are read by the tracing setup)."""
    return Settings.from_env(
        {
            "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:9/mcp",
            "MCP_AUTH_PROVIDERS": "dev",
            "MCP_AUTH_DEV_USER": "u",
            **{k: v for k, v in env.items() if k.startswith("MCP_")},
        }
    ).otel_exporter


def test_a_bad_tracing_setting_stops_the_function_at_start(start_function):
    with pytest.raises(RuntimeError) as caught:
        start_function(MCP_AUTH_OTEL_EXPORTER="zipkin")
    assert "MCP_AUTH_OTEL_EXPORTER must be one of none, otlp, gcp" in str(caught.value)
