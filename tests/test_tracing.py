"""Tracing set-up in process: the Cloud Trace exporter's settings are validated with messages naming
the setting; outbound calls (``http.Transport``) become CLIENT spans below the current span that carry
``traceparent`` to the callee, with the URL's query, fragment and userinfo left out and no header value
on the span.

The end-to-end runs (a function process exporting to an OTLP receiver and to a stand-in for the
Cloud Trace API) are in tests/e2e/test_tracing.py and tests/e2e/test_cloud_trace.py.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mcp_auth import config, http
from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.http import close_http_client, http_client
from mcp_auth.tracing import cloud_trace_target, send_in_span

BASE = {"MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:9/mcp", "MCP_AUTH_PROVIDERS": "dev", "MCP_AUTH_DEV_USER": "u"}


def _settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, "MCP_AUTH_OTEL_EXPORTER": "gcp", **env})


def test_cloud_trace_writes_to_the_settings_project():
    assert cloud_trace_target(_settings(GOOGLE_CLOUD_PROJECT="acme-mcp-prod")) == ("acme-mcp-prod", None)
    assert cloud_trace_target(
        _settings(GOOGLE_CLOUD_PROJECT="example.com:acme-mcp", MCP_AUTH_CLOUD_TRACE_ENDPOINT="[::1]:9000")
    ) == ("example.com:acme-mcp", "[::1]:9000")


def test_cloud_trace_without_a_project_says_what_provides_one(monkeypatch):
    monkeypatch.setattr(config, "default_project", lambda: None)  # no credentials that name a project
    with pytest.raises(ConfigError) as caught:
        cloud_trace_target(_settings())
    message = str(caught.value)
    assert "MCP_AUTH_OTEL_EXPORTER=gcp" in message and "GOOGLE_CLOUD_PROJECT" in message and "credentials" in message


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"GOOGLE_CLOUD_PROJECT": "Acme Prod"}, "'Acme Prod' (GOOGLE_CLOUD_PROJECT)"),
        ({"GOOGLE_CLOUD_PROJECT": "abc"}, "6-30 lowercase letters"),
        ({"GOOGLE_CLOUD_PROJECT": "p" * 5000}, "needs a Google Cloud project id"),
        ({"GOOGLE_CLOUD_PROJECT": "acme-mcp", "MCP_AUTH_CLOUD_TRACE_ENDPOINT": "127.0.0.1"}, "must be host:port"),
        (
            {"GOOGLE_CLOUD_PROJECT": "acme-mcp", "MCP_AUTH_CLOUD_TRACE_ENDPOINT": "http://127.0.0.1:9000"},
            "MCP_AUTH_CLOUD_TRACE_ENDPOINT must be host:port",
        ),
        ({"GOOGLE_CLOUD_PROJECT": "acme-mcp", "MCP_AUTH_CLOUD_TRACE_ENDPOINT": "127.0.0.1:70000"}, "host:port"),
    ],
)
def test_malformed_cloud_trace_settings_are_refused_naming_the_setting(env, needle):
    with pytest.raises(ConfigError) as caught:
        cloud_trace_target(_settings(**env))
    assert needle in str(caught.value) and len(str(caught.value)) < 400


def test_the_stand_in_endpoint_refuses_to_start_on_cloud_run():
    with pytest.raises(ConfigError, match="MCP_AUTH_CLOUD_TRACE_ENDPOINT is for tests only"):
        Settings.from_env(
            {
                "MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp",
                "MCP_AUTH_JWT_ISSUER": "https://issuer.example.com",
                "MCP_AUTH_JWT_JWKS_URL": "https://issuer.example.com/jwks",
                "K_SERVICE": "mcp",
                "MCP_AUTH_OTEL_EXPORTER": "gcp",
                "MCP_AUTH_CLOUD_TRACE_ENDPOINT": "127.0.0.1:9000",
            }
        )


def test_gcp_is_one_of_the_exporters_the_setting_names():
    assert _settings().otel_exporter == "gcp"
    with pytest.raises(ConfigError, match="MCP_AUTH_OTEL_EXPORTER must be one of none, otlp, gcp"):
        _settings(MCP_AUTH_OTEL_EXPORTER="stackdriver")


class _Callee(ThreadingHTTPServer):
    """A loopback server that records the headers of each request it answers (204, or 503 on /down)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.seen: list[dict[str, str]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Recorder(BaseHTTPRequestHandler):
    server: _Callee

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(503 if self.path.startswith("/down") else 204)
        self.end_headers()


@pytest.fixture
def callee() -> Iterator[_Callee]:
    server = _Callee()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def outbound_spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider of its own (the global one is left alone), outbound calls traced for the test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    http.trace_outbound(functools.partial(send_in_span, provider.get_tracer("mcp_auth")))
    yield provider, exporter
    http.trace_outbound(None)
    provider.shutdown()


async def test_an_outbound_call_is_a_client_span_below_the_current_span_and_sends_traceparent(outbound_spans, callee):
    provider, exporter = outbound_spans
    token = "tok-" + "s3cr3t" * 6
    host_port = callee.base.removeprefix("http://")
    with provider.get_tracer("test").start_as_current_span("POST /mcp", kind=SpanKind.SERVER) as server:
        answer = await http_client().get(
            f"http://admin:pa55word@{host_port}/keys?access_token={token}#part",
            headers={"Authorization": f"Bearer {token}", "X-Api-Key": token},
        )
        down = await http_client().get(f"{callee.base}/down?sig={token}")
    await close_http_client()
    assert answer.status_code == 204 and down.status_code == 503

    spans = {s.attributes["url.full"]: s for s in exporter.get_finished_spans() if s.kind == SpanKind.CLIENT}
    assert set(spans) == {f"{callee.base}/keys", f"{callee.base}/down"}
    keys, failed = spans[f"{callee.base}/keys"], spans[f"{callee.base}/down"]
    server_context = server.get_span_context()
    for span in (keys, failed):
        assert span.name == "GET" and span.parent is not None
        assert span.parent.span_id == server_context.span_id and span.context.trace_id == server_context.trace_id
        assert span.attributes["http.request.method"] == "GET" and span.attributes["server.address"] == "127.0.0.1"
    assert keys.attributes["http.response.status_code"] == 204 and "error.type" not in keys.attributes
    assert failed.attributes["http.response.status_code"] == 503 and failed.attributes["error.type"] == "503"

    version, trace_id, parent_id, flags = callee.seen[0]["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", f"{server_context.trace_id:032x}", f"{keys.context.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    on_spans = repr([(s.name, dict(s.attributes or {}), s.events) for s in exporter.get_finished_spans()])
    for secret in (token, "pa55word", "admin", "Bearer", "access_token", "sig=", "part"):
        assert secret not in on_spans


async def test_a_call_that_fails_records_the_error_class(outbound_spans):
    provider, exporter = outbound_spans
    with provider.get_tracer("test").start_as_current_span("POST /mcp", kind=SpanKind.SERVER):
        with pytest.raises(httpx.ConnectError):
            await http_client().get("http://127.0.0.1:9/unreachable?key=value", timeout=2)
    await close_http_client()
    [span] = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert span.attributes["error.type"] == "ConnectError"
    assert span.attributes["url.full"] == "http://127.0.0.1:9/unreachable"


async def test_with_tracing_off_calls_make_no_span_and_send_no_traceparent(callee):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("POST /mcp"):
        await http_client().get(f"{callee.base}/keys")
    await close_http_client()
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.INTERNAL]
    assert "traceparent" not in callee.seen[0]


async def test_the_jwks_and_introspection_clients_are_traced_too(outbound_spans, callee):
    from mcp_auth.auth.introspection import IntrospectionProvider
    from mcp_auth.auth.jwks import JwksCache

    jwks = JwksCache(f"{callee.base}/jwks")
    introspection = IntrospectionProvider(
        endpoint=f"{callee.base}/introspect", client_id="c", client_secret="s", audience="http://127.0.0.1:9/mcp"
    )
    for client in (jwks._client, introspection._client):
        await client.get(f"{callee.base}/keys")
    await jwks.aclose()
    await introspection.aclose()
    _, exporter = outbound_spans
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.CLIENT, SpanKind.CLIENT]
    assert all("traceparent" in seen for seen in callee.seen)
