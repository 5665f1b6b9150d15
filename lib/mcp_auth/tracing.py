"""Optional OpenTelemetry traces (``MCP_AUTH_OTEL_EXPORTER=otlp``), with the user as ``enduser.id``.

Off by default, and then nothing of the OpenTelemetry SDK is imported (it costs cold-start time).
On, the SDK exports over OTLP/HTTP (protobuf) with a batch processor to
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``
(default ``http://localhost:4318``); ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER`` (+ ``_ARG``) and ``OTEL_BSP_*`` are honoured as
the SDK defines them; the endpoint and sampler are validated at start-up.

Each HTTP request gets one SERVER span, ``POST /mcp``, continuing an incoming ``traceparent``. When
the request ends the span gets what the request's record (``observe.RequestRecord``) learnt:

    enduser.id                   the authenticated uid (absent when authentication failed)
    http.request.method, http.route, url.path, http.response.status_code
    mcp.method.name, gen_ai.tool.name
    mcp_auth.auth.decision, mcp_auth.auth.method, mcp_auth.auth.reason, mcp_auth.outcome

The MCP SDK's own spans (``tools/call echo``, from its ``OpenTelemetryMiddleware``) start inside it
and become its children. No header, token, argument or body is ever put on a span.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError
from mcp_auth.logs import current_trace, redact, trace_fields

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer
    from starlette.types import ASGIApp, Receive, Scope, Send

    from mcp_auth.config import Settings
    from mcp_auth.observe import RequestRecord

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_SERVICE_NAME = "mcp-auth-server"
_PROPAGATED = (b"traceparent", b"tracestate")


def traces_endpoint(env: Mapping[str, str]) -> str:
    """The URL spans are POSTed to, from the standard OTLP settings, validated."""
    if traces := (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or "").strip():
        name, url = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces
    else:
        name = "OTEL_EXPORTER_OTLP_ENDPOINT"
        base = (env.get(name) or "").strip() or DEFAULT_ENDPOINT
        url = base.rstrip("/") + "/v1/traces"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"{name} must be an http(s) URL of an OTLP/HTTP collector, such as http://localhost:4318; got {url[:80]!r}."
        )
    return url


def check_sampler(env: Mapping[str, str]) -> None:
    """``OTEL_TRACES_SAMPLER``/``_ARG`` as the SDK reads them; the SDK itself would only warn and fall back."""
    sampler = (env.get("OTEL_TRACES_SAMPLER") or "").strip()
    if sampler and sampler not in SAMPLERS:
        raise ConfigError(f"OTEL_TRACES_SAMPLER must be one of {', '.join(SAMPLERS)}, got {sampler[:40]!r}.")
    raw = (env.get("OTEL_TRACES_SAMPLER_ARG") or "").strip()
    if raw and sampler.endswith("traceidratio"):
        try:
            ratio = float(raw)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got {raw[:40]!r}.")


class Tracing:
    """Starts the SERVER span of each HTTP request and fills it in from the request's record."""

    def __init__(self, tracer: Tracer, *, shutdown: Any = None) -> None:
        self._tracer = tracer
        self.shutdown = shutdown

    @contextmanager
    def request_span(
        self, scope: Scope, record: RequestRecord, *, route: str | None, project: str | None = None
    ) -> Iterator[Span]:
        """The request's SERVER span, current while the request runs; the request's log lines name it."""
        from opentelemetry import context, propagate, trace

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ()) if k in _PROPAGATED}
        parent = propagate.extract(carrier)
        attributes: dict[str, Any] = {"http.request.method": record.method}
        if route:  # a known route only: an unknown path is whatever the client sent
            attributes["http.route"] = attributes["url.path"] = route
        span = self._tracer.start_span(
            f"{record.method} {route or 'unknown'}", context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        if (span_context := span.get_span_context()).is_valid:
            trace_id = format(span_context.trace_id, "032x")
            name = f"projects/{project}/traces/{trace_id}" if project else trace_id
            record.trace = name  # the span's trace (it continues a W3C traceparent, not X-Cloud-Trace-Context)
            if (lines := current_trace()) is not None:  # the request's log lines name this span
                lines.update(trace_fields(name, format(span_context.span_id, "016x"), span_context.trace_flags.sampled))
        failed: BaseException | None = None
        try:
            yield span
        except BaseException as exc:
            failed = exc
            raise
        finally:
            context.detach(token)
            span.set_attributes(span_attributes(record))
            if failed is not None:  # the app answers 500 after the span ends; the message stays in the log
                span.set_attributes({"error.type": type(failed).__qualname__, "http.response.status_code": 500})
            if failed is not None or record.status >= 500 or record.outcome == "error":
                span.set_status(trace.StatusCode.ERROR)
            span.end()


class TraceStage:
    """The pipeline stage that runs each request inside its SERVER span (health checks are not traced)."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing, project: str | None = None) -> None:
        self.app, self._tracing, self._project = app, tracing, project

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from mcp_auth.observe import record_of

        record = record_of(scope)
        if record is None or record.route in ("healthz", "readyz"):
            await self.app(scope, receive, send)
            return
        route = None if record.route == "unknown" else record.path
        with self._tracing.request_span(scope, record, route=route, project=self._project):
            await self.app(scope, receive, send)


def span_attributes(record: RequestRecord) -> dict[str, Any]:
    """What the request learnt, as span attributes: ids and names only, never a credential."""
    attributes: dict[str, Any] = {"http.response.status_code": record.status, "mcp_auth.outcome": record.outcome}
    if record.user and record.auth_decision == "allowed":
        attributes["enduser.id"] = record.user
    for key, value in (
        ("mcp_auth.auth.decision", record.auth_decision),
        ("mcp_auth.auth.method", record.auth_method),
        ("mcp_auth.auth.reason", record.auth_reason),
        ("mcp.method.name", record.mcp_method),
        ("gen_ai.tool.name", record.tool),
    ):
        if value:
            attributes[key] = redact(value[:200])  # client-chosen names (tool) get the log lines' masking
    return attributes


def build_tracing(settings: Settings, env: Mapping[str, str] | None = None) -> Tracing | None:
    """Configure the OpenTelemetry SDK as ``MCP_AUTH_OTEL_EXPORTER`` asks (None when off).

    ``settings.otel_exporter`` turns it on; the standard ``OTEL_*`` variables (``env``, the process
    environment by default, as the OpenTelemetry SDK reads them too) say where spans go.

    A bad value, a malformed endpoint or a missing ``otel`` extra raises ``ConfigError`` at start-up.
    """
    if settings.otel_exporter == "none":
        return None
    env = os.environ if env is None else env
    endpoint = traces_endpoint(env)
    check_sampler(env)
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            "MCP_AUTH_OTEL_EXPORTER=otlp needs the OpenTelemetry SDK and OTLP exporter: install the project's "
            f"'otel' extra (pip install 'mcp-auth-server[otel]'), or set MCP_AUTH_OTEL_EXPORTER=none ({exc.name})."
        ) from None
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return Tracing(provider.get_tracer("mcp_auth"), shutdown=provider.shutdown)
