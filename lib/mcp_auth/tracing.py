"""Optional OpenTelemetry traces (``MCP_AUTH_OTEL_EXPORTER``), with the user as ``enduser.id``.

Off by default (``none``), and then nothing of OpenTelemetry is imported (it costs cold-start time).
On, the SDK exports with a batch processor, as ``MCP_AUTH_OTEL_EXPORTER`` says:

    otlp   OTLP/HTTP (protobuf) to a collector at ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or
           ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces`` (default ``http://localhost:4318``)
    gcp    straight to Cloud Trace in ``Settings.project`` (the ``gcp-trace`` extra; the runtime account
           needs roles/cloudtrace.agent), the resource from Google's resource detector on Cloud Run

``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``
(+ ``_ARG``) and ``OTEL_BSP_*`` are honoured as the SDK defines them; the endpoint, project and sampler
are validated at start-up.

Each HTTP request gets one SERVER span, ``POST /mcp``, continuing an incoming ``traceparent``. When
the request ends the span gets what the request's record (``observe.RequestRecord``) learnt:

    enduser.id                   the authenticated uid (absent when authentication failed)
    http.request.method, http.route, url.path, http.response.status_code
    mcp.method.name, gen_ai.tool.name
    mcp_auth.auth.decision, mcp_auth.auth.method, mcp_auth.auth.reason, mcp_auth.outcome

The MCP SDK's own spans (``tools/call echo``, from its ``OpenTelemetryMiddleware``) start inside it
and become its children. Every outbound request sent through ``http.Transport`` (``http_client()``, and the
JWKS and introspection clients) is a CLIENT span below the span current when it is sent, named by its
method, that sends ``traceparent`` to the callee (``send_in_span``):

    http.request.method, server.address, server.port, url.full (no query, fragment or userinfo),
    http.response.status_code, error.type (the status of a 4xx/5xx answer, or the exception's class)

No header, token, query string, argument or body is ever put on a span.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError
from mcp_auth.logs import current_trace, redact, trace_fields

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer
    from starlette.types import ASGIApp, Receive, Scope, Send

    from mcp_auth import http
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
_EXTRAS = {"otlp": "otel", "gcp": "gcp-trace"}
# A project id (6-30 lowercase letters, digits, hyphens), optionally domain-scoped (example.com:id).
_PROJECT = re.compile(r"(?:[a-z][-a-z0-9.]{0,61}[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")


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


def cloud_trace_target(settings: Settings) -> tuple[str, str | None]:
    """(project, endpoint override) of ``MCP_AUTH_OTEL_EXPORTER=gcp``, validated."""
    endpoint = settings.cloud_trace_endpoint
    if endpoint is not None:
        match = _HOST_PORT.fullmatch(endpoint)
        if not match or not 1 <= int(match["port"]) <= 65535:
            raise ConfigError(
                "MCP_AUTH_CLOUD_TRACE_ENDPOINT must be host:port of a plaintext gRPC stand-in for the Cloud Trace "
                f"API, such as 127.0.0.1:9000; got {endpoint[:80]!r}."
            )
    project = settings.project
    if not project:
        raise ConfigError(
            "MCP_AUTH_OTEL_EXPORTER=gcp writes traces to Cloud Trace in the function's project, and no project was "
            "found: set GOOGLE_CLOUD_PROJECT, or run with Google credentials that name a project."
        )
    if not _PROJECT.fullmatch(project):
        raise ConfigError(
            "MCP_AUTH_OTEL_EXPORTER=gcp needs a Google Cloud project id (6-30 lowercase letters, digits and "
            f"hyphens) to write traces to; the project is {project[:80]!r} (GOOGLE_CLOUD_PROJECT)."
        )
    return project, endpoint


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

    ``settings.otel_exporter`` turns it on and picks the exporter; the standard ``OTEL_*`` variables
    (``env``, the process environment by default, as the OpenTelemetry SDK reads them too) say the rest.
    Outbound requests through ``http.Transport`` become CLIENT spans from then on (``send_in_span``).

    A bad value, a malformed endpoint or project, missing Google credentials or a missing extra raises
    ``ConfigError`` at start-up.
    """
    exporter_name = settings.otel_exporter
    if exporter_name == "none":
        return None
    env = os.environ if env is None else env
    check_sampler(env)
    if exporter_name == "gcp":
        project, channel = cloud_trace_target(settings)
        make_exporter = functools.partial(cloud_trace_exporter, project, channel)
    else:
        make_exporter = functools.partial(otlp_exporter, traces_endpoint(env))
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = make_exporter()
        resource = tracing_resource(gcp=exporter_name == "gcp" and settings.on_cloud_run)
    except ImportError as exc:
        extra = _EXTRAS[exporter_name]
        raise ConfigError(
            f"MCP_AUTH_OTEL_EXPORTER={exporter_name} needs the OpenTelemetry packages of the '{extra}' extra: "
            f"pip install 'mcp-auth-cloudrun[{extra}]', or set MCP_AUTH_OTEL_EXPORTER=none ({exc.name} is missing)."
        ) from None
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracer = provider.get_tracer("mcp_auth")
    from mcp_auth import http  # here, not at import: httpx is not needed before the first outbound call

    http.trace_outbound(functools.partial(send_in_span, tracer))

    def shutdown() -> None:
        http.trace_outbound(None)
        provider.shutdown()

    return Tracing(tracer, shutdown=shutdown)


def otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


def cloud_trace_exporter(project: str, endpoint: str | None = None) -> SpanExporter:
    """Google's Cloud Trace exporter (BatchWriteSpans over gRPC) for ``project``, with the process's Google
    credentials, or a plaintext channel to ``endpoint`` (a stand-in for the API in tests)."""
    from google.auth.exceptions import DefaultCredentialsError
    from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter

    client = None
    if endpoint:
        import grpc  # type: ignore[import-untyped]
        from google.cloud.trace_v2 import TraceServiceClient
        from google.cloud.trace_v2.services.trace_service.transports import TraceServiceGrpcTransport

        client = TraceServiceClient(transport=TraceServiceGrpcTransport(channel=grpc.insecure_channel(endpoint)))
    with warnings.catch_warnings():
        # 1.15 marks the class deprecated (its successor is OTLP to Cloud Trace's telemetry API); it still writes
        # through the documented Cloud Trace v2 API, and the warning would only reach the function's stderr.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            exporter: SpanExporter = CloudTraceSpanExporter(project_id=project, client=client)  # type: ignore[no-untyped-call]
        except DefaultCredentialsError:
            raise ConfigError(
                "MCP_AUTH_OTEL_EXPORTER=gcp needs Google credentials to write to Cloud Trace: on Cloud Run the "
                "function's service account, elsewhere `gcloud auth application-default login`."
            ) from None
    return exporter


def tracing_resource(*, gcp: bool) -> Resource:
    """The spans' resource: the ``OTEL_*`` variables', with a default service name, and on Cloud Run with
    ``gcp`` what Google's resource detector reads from the metadata server (region, service, instance)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource, get_aggregated_resources

    resource = Resource.create()
    if gcp:  # off Cloud Run the detector would wait for a metadata server that is not there
        from opentelemetry.resourcedetector.gcp_resource_detector import GoogleCloudResourceDetector

        resource = get_aggregated_resources([GoogleCloudResourceDetector()], initial_resource=resource)
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


async def send_in_span(tracer: Tracer, request: httpx.Request, send: http.Send) -> httpx.Response:
    """Send ``request`` inside a CLIENT span, current while it is sent, with ``traceparent`` for the callee.

    The span holds the method, the host and port, the URL without query, fragment or userinfo, and the
    status, or the exception's class in ``error.type``; never a header or a body.
    """
    from opentelemetry import propagate, trace

    url = request.url
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "server.address": url.host,
        "url.full": str(url.copy_with(query=None, fragment=None, userinfo=b"")),
    }
    if url.port is not None:
        attributes["server.port"] = url.port
    with tracer.start_as_current_span(
        request.method,
        kind=trace.SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,  # an exception's message may quote what was sent
        set_status_on_exception=False,
    ) as span:
        propagate.inject(request.headers)
        try:
            response = await send(request)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(trace.StatusCode.ERROR)
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            span.set_attribute("error.type", str(response.status_code))
            span.set_status(trace.StatusCode.ERROR)
        return response
