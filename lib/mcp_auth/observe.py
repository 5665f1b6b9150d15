"""What one request did, for its log line and the audit trail.

``RequestLog``, the first stage of the pipeline, starts a ``RequestRecord`` and
keeps it in the request's ASGI scope (``record_of(scope)``) for the stages after
it; the edge notes a refusal, the MCP endpoint fills in who and the decision and
puts the record in the request context, and ``AuditMiddleware`` (inside the user's
MCP server) fills in the MCP method, tool, outcome and tool latency. When the
request ends, ``emit`` writes its one line. On the MCP route that line is also the audit record
(``"audit": true``): every authentication decision and every tool call
(stateless: one per request) with who, what, when, outcome and latency —
one write per request, which keeps logging off the hot path's critical cost.

Field names are a contract with Terraform's log-based metrics and dashboard
(``tests/terraform/test_log_metrics.py``): ``httpRequest.status``,
``httpRequest.latency``, ``route``, ``outcome``, ``user``, ``audit``,
``auth.method``, ``auth.decision``, ``auth.reason``, ``mcp.method``,
``mcp.tool``, ``mcp.latency_ms``, and ``user_active`` (see ``ActiveUsers``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_auth.challenge import plain_error
from mcp_auth.context import request_or_none
from mcp_auth.headers import first_values, wanted
from mcp_auth.logs import TRACE, bind_trace, trace_fields, unbind_trace
from mcp_auth.proxies import client_origin

if TYPE_CHECKING:
    from mcp_auth.store.audit import FirestoreAuditSink

request_logger = logging.getLogger("mcp_auth.request")
logger = logging.getLogger("mcp_auth")
RECORD = "mcp_auth_record"
"""Key of the request's ``RequestRecord`` in the ASGI scope's ``state``."""

_HEADERS = wanted("traceparent", "x-cloud-trace-context", "x-forwarded-for", "x-forwarded-proto", "user-agent")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CLOUD_TRACE = re.compile(r"^([0-9a-f]{32})(?:/(\d{1,20}))?(?:;o=([01]))?$")


@dataclass(slots=True)
class RequestRecord:
    method: str
    path: str
    route: str
    remote_ip: str | None
    user_agent: str | None
    trace: str | None
    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    user: str | None = None
    auth_method: str | None = None
    auth_decision: str | None = None
    auth_reason: str | None = None
    mcp_method: str | None = None
    tool: str | None = None
    tool_latency: float | None = None
    outcome: str = "ok"
    user_active: bool = False

    def latency(self) -> float:
        return time.perf_counter() - self.started


def record_of(scope: Scope) -> RequestRecord | None:
    """The record ``RequestLog`` started for this request (None outside the pipeline)."""
    state = scope.get("state")
    return state.get(RECORD) if isinstance(state, dict) else None


class RequestLog:
    """The outermost stage: starts the request's record, answers 500 for anything unhandled, and
    writes the request's one log line (and its audit copy) when it ends."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        route_of: Callable[[str], str],
        trusted_proxies: tuple[str, ...] = (),
        project: str | None = None,
        active_users: ActiveUsers | None = None,
        audit: FirestoreAuditSink | None = None,
    ) -> None:
        self.app = app
        self._route_of, self._trusted, self._project = route_of, trusted_proxies, project
        self._active_users = active_users or ActiveUsers()
        self._audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = first_values(scope["headers"], _HEADERS)
        trace = trace_fields_of(headers, self._project)
        record = RequestRecord(
            method=scope["method"],
            path=scope["path"][:200],
            route=self._route_of(scope["path"]),
            remote_ip=client_origin(scope, headers, self._trusted).ip,
            user_agent=headers.get("user-agent"),
            trace=trace.get(TRACE),
        )
        bound = bind_trace(trace)  # every line of this request carries it (the trace stage may refine it)
        scope = {**scope, "state": {**(scope.get("state") or {}), RECORD: record}}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("Unhandled error while serving %s %s", scope.get("method"), record.path)
            record.outcome = "error"
            if not record.status:
                response = plain_error(500, "server_error", "An internal error occurred; it has been logged.")
                await response(scope, receive, tracking_send)
        finally:
            self._active_users.mark(record)
            if record.route not in ("healthz", "readyz") or record.status >= 500:
                emit(record)
            if self._audit is not None and record.auth_decision:
                self._audit.submit(record)
            unbind_trace(bound)


def trace_fields_of(headers: Any, project: str | None) -> dict[str, Any]:
    """The log lines' trace keys from ``traceparent`` or ``X-Cloud-Trace-Context`` (empty without either).

    The trace is ``projects/<project>/traces/<id>`` (the bare id without a project), the span the
    caller's (``X-Cloud-Trace-Context`` gives it in decimal; Cloud Logging wants 16 hex digits), and
    ``trace_sampled`` the caller's sampling decision.
    """
    trace_id = span_id = None
    sampled = False
    if (value := headers.get("traceparent")) and (m := _TRACEPARENT.match(value.strip().lower())):
        trace_id, span_id, sampled = m.group(1), m.group(2), bool(int(m.group(3), 16) & 1)
    elif (value := headers.get("x-cloud-trace-context")) and (m := _CLOUD_TRACE.match(value.strip().lower())):
        trace_id, sampled = m.group(1), m.group(3) == "1"
        if m.group(2) and 0 < (number := int(m.group(2))) < 1 << 64:
            span_id = format(number, "016x")
    if trace_id is None or set(trace_id) == {"0"}:
        return {}
    if span_id is not None and set(span_id) == {"0"}:
        span_id = None
    return trace_fields(f"projects/{project}/traces/{trace_id}" if project else trace_id, span_id, sampled)


def emit(record: RequestRecord) -> None:
    """The one log line of a request."""
    latency = record.latency()
    fields: dict[str, Any] = {
        "httpRequest": {
            "requestMethod": record.method,
            "requestUrl": record.path,
            "status": record.status,
            "latency": f"{latency:.6f}s",
            "remoteIp": record.remote_ip,
            "userAgent": (record.user_agent or "")[:200],
        },
        "route": record.route,
        "outcome": record.outcome,
        "latency_ms": round(latency * 1000, 3),
    }
    if record.trace:
        fields[TRACE] = record.trace
    if record.user:
        fields["user"] = record.user
    if record.user_active:
        fields["user_active"] = True
    if record.auth_decision:
        fields["audit"] = True
        fields["auth"] = {"decision": record.auth_decision, "method": record.auth_method}
        if record.auth_reason:
            fields["auth"]["reason"] = record.auth_reason
    if record.mcp_method:
        fields["mcp"] = {"method": record.mcp_method, "tool": record.tool}
        if record.tool_latency is not None:
            fields["mcp"]["latency_ms"] = round(record.tool_latency * 1000, 3)
    level = logging.ERROR if record.status >= 500 else logging.WARNING if record.status >= 400 else logging.INFO
    if request_logger.isEnabledFor(level):  # made and handled as ``log`` would, without its search for the caller
        line = request_logger.makeRecord(
            request_logger.name,
            level,
            __file__,
            0,
            f"{record.method} {record.path} {record.status}",
            (),
            None,
            "emit",
            fields,
        )
        request_logger.handle(line)


class ActiveUsers:
    """Marks the first request of each user in a window (an hour) on this instance: ``"user_active": true``.

    Terraform's ``active_users`` log-based metric counts the request lines so marked, so its sum over a
    window charts distinct active users without a per-user label. A user served by two instances in
    one window is counted once per instance (an upper bound); the exact count is a Log Analytics query
    over the request lines' ``user`` field (docs/operations.md). Memory is bounded: past ``max_users``
    distinct users in a window, a further new user is marked on each request.
    """

    def __init__(self, *, window_seconds: int = 3600, max_users: int = 100_000) -> None:
        self.window_seconds, self.max_users = window_seconds, max_users
        self._window = -1
        self._seen: set[str] = set()

    def mark(self, record: RequestRecord) -> None:
        if not record.user or record.auth_decision != "allowed":
            return
        window = int(time.time() // self.window_seconds)
        if window != self._window:
            self._window, self._seen = window, set()
        if record.user in self._seen:
            return
        if len(self._seen) < self.max_users:
            self._seen.add(record.user)
        record.user_active = True


class AuditMiddleware:
    """Records the MCP method, tool, outcome and tool latency of the request into its record."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        request = request_or_none()
        record = request.record if request is not None else None
        name = ctx.params.get("name") if ctx.params else None
        tool = name if ctx.method in ("tools/call", "prompts/get") and isinstance(name, str) else None
        if record is not None and ctx.request_id is not None:
            record.mcp_method, record.tool = ctx.method, tool
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await call_next(ctx)
        except BaseException as exc:
            outcome = "error" if isinstance(exc, Exception) else "cancelled"
            raise
        else:
            if (
                isinstance(result, CallToolResult)
                and result.is_error
                or (isinstance(result, dict) and result.get("isError") is True)
            ):
                outcome = "tool_error"
            return result
        finally:
            if record is not None and ctx.request_id is not None:
                record.outcome = outcome
                if ctx.method == "tools/call":
                    record.tool_latency = time.perf_counter() - started
