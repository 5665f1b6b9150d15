"""Structured logs in Cloud Logging's JSON format, one object per line, secrets redacted.

Cloud Logging reads ``severity``, ``message``, ``httpRequest`` and the
``logging.googleapis.com/trace``, ``spanId`` and ``trace_sampled`` keys from each
line; every other key lands in ``jsonPayload``. Redaction is the last step of
formatting, so a bearer token, a JWT or an API key is masked wherever it appears
(message, arguments, extra fields, traceback).

Every line written while a request is served, by any logger, carries the request's
trace: the request log stage binds it (``bind_trace``) for the request's context,
and the formatter copies it onto each line. A line written outside a request has
no trace keys.

A line with an exception carries its traceback as ``stack_trace`` (the text
``traceback.format_exc()`` gives), which Error Reporting reads; an ERROR line
with an exception also carries Error Reporting's ``@type`` and, on Cloud Run,
``serviceContext`` (``K_SERVICE``, ``K_REVISION``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

# Linear in the line's length, whatever a client put in it: every quantifier is possessive (a run
# once consumed is never re-scanned), and API keys and JWTs only match at the start of a token run
# (the look-behind), so a run like ``eyJeyJeyJ…`` is scanned once, not once per ``eyJ``.
_RUN_START = r"(?<![A-Za-z0-9_-])"
_SECRET = re.compile(
    r"(?i:\b(bearer|basic)\s++)[A-Za-z0-9._~+/=-]{8,}+"  # Authorization header values
    rf"|{_RUN_START}mak_[A-Za-z0-9]{{4,}}+_[A-Za-z0-9_-]{{8,}}+"  # API keys
    rf"|{_RUN_START}eyJ[A-Za-z0-9_-]{{6,}}+\.[A-Za-z0-9_-]{{6,}}+\.[A-Za-z0-9_-]*+"  # JWTs (header starts eyJ)
)
REDACTED = "[REDACTED]"
_RESERVED = ("severity", "message", "time", "logger")

TRACE = "logging.googleapis.com/trace"
SPAN_ID = "logging.googleapis.com/spanId"
TRACE_SAMPLED = "logging.googleapis.com/trace_sampled"
ERROR_EVENT = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"

_request_trace: ContextVar[dict[str, Any] | None] = ContextVar("mcp_auth_request_trace", default=None)


def trace_fields(trace: str, span_id: str | None, sampled: bool) -> dict[str, Any]:
    """The trace keys of a log line: ``trace`` is ``projects/<project>/traces/<id>``, ``span_id`` 16 hex digits."""
    fields: dict[str, Any] = {TRACE: trace, TRACE_SAMPLED: sampled}
    if span_id:
        fields[SPAN_ID] = span_id
    return fields


def bind_trace(fields: dict[str, Any]) -> Token[dict[str, Any] | None]:
    """Put ``fields`` on every line logged in this context (and tasks it starts) until ``unbind_trace``.

    The dict is shared, not copied: a later stage may fill it in (the trace stage, with its own span),
    and ``unbind_trace`` empties it, so a task started in the request and outliving it logs no trace.
    """
    return _request_trace.set(fields)


def unbind_trace(token: Token[dict[str, Any] | None]) -> None:
    fields = _request_trace.get()
    if fields is not None:
        fields.clear()
    _request_trace.reset(token)


def current_trace() -> dict[str, Any] | None:
    """The trace keys bound to this context (None outside a request; empty when the request has no trace)."""
    return _request_trace.get()


def service_context(env: Mapping[str, str]) -> dict[str, str] | None:
    """Error Reporting's ``serviceContext`` from Cloud Run's ``K_SERVICE`` and ``K_REVISION`` (None elsewhere)."""
    if not (service := env.get("K_SERVICE")):
        return None
    return {"service": service, "version": env["K_REVISION"]} if env.get("K_REVISION") else {"service": service}


#: Every match of ``_SECRET`` contains one of these (lower-cased): most lines skip the regex.
_TRIGGERS = ("bearer", "basic", "mak_", "eyj")


def redact(text: str) -> str:
    lowered = text.lower()
    if "bearer" not in lowered and "basic" not in lowered and "mak_" not in lowered and "eyj" not in lowered:
        return text  # the four _TRIGGERS, spelled out: this runs for every line
    return _SECRET.sub(lambda m: (m.group(1) + " " if m.group(1) else "") + REDACTED, text)


class CloudLoggingFormatter(JsonFormatter):
    """python-json-logger's JSON lines with Cloud Logging's keys.

    A plain line (a text message, no exception or stack) - every request's line among them - takes a
    short path through the same rules: the message, then the record's extra fields in order (the
    library's reserved attributes and ``_``-names skipped), then ``time``, then the keys below, encoded
    by the library's encoder. It calls a handful of functions instead of some forty, which on the
    request path, with cold caches, is most of what a line costs (``tests/test_logs.py`` holds both
    paths to the same output).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        super().__init__(timestamp="time", json_ensure_ascii=False)
        self._service = service_context(os.environ if env is None else env)
        self._encode = JsonEncoder(ensure_ascii=False).encode

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        self._cloud_fields(log_record, record)

    def _cloud_fields(self, log_record: dict[str, Any], record: logging.LogRecord) -> None:
        log_record["severity"] = record.levelname
        log_record["logger"] = record.name
        log_record.pop("levelname", None)
        if trace := _request_trace.get():
            log_record.update(trace)
        if (stack := log_record.pop("exc_info", None)) is not None:
            log_record["stack_trace"] = stack  # Error Reporting reads this key, not python-json-logger's
            if record.levelno >= logging.ERROR:
                log_record["@type"] = ERROR_EVENT
                if self._service is not None:
                    log_record["serviceContext"] = self._service

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict) or record.exc_info or record.exc_text or record.stack_info:
            return redact(super().format(record))
        record.message = record.getMessage()
        line: dict[str, Any] = {"message": record.message}
        skip = self._skip_fields
        for key, value in record.__dict__.items():
            if key not in skip and not key.startswith("_"):
                line[key] = value
        line["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()  # what the encoder would write
        self._cloud_fields(line, record)
        return redact(self._encode(line))


def _writes_to_console(handler: logging.Handler) -> bool:
    if type(handler).__module__.startswith("rich."):
        return True
    consoles = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    return isinstance(handler, logging.StreamHandler) and any(handler.stream is c for c in consoles)


def configure_logging(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """Send every log line to ``stream`` (stdout by default: Cloud Run forwards it to Cloud Logging) as JSON.

    Console handlers (``logging.basicConfig``'s, and the Rich handler ``MCPServer`` installs when the root
    logger has none) are replaced, so a line is printed once, as JSON; any other handler an embedding program
    installed (a file, a test's capture) is kept.
    """
    root = logging.getLogger()
    if stream is None and any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    for old in list(root.handlers):
        if _writes_to_console(old):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "mcp", "google", "grpc", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
