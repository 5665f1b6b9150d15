"""Structured logs in Cloud Logging's JSON format, one object per line, secrets redacted.

Cloud Logging reads ``severity``, ``message``, ``httpRequest`` and
``logging.googleapis.com/trace`` from each line; every other key lands in
``jsonPayload``. Redaction is the last step of formatting, so a bearer token, a
JWT or an API key is masked wherever it appears (message, arguments, extra
fields, exception text).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

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


#: Every match of ``_SECRET`` contains one of these (lower-cased): most lines skip the regex.
_TRIGGERS = ("bearer", "basic", "mak_", "eyj")


def redact(text: str) -> str:
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    return _SECRET.sub(lambda m: (m.group(1) + " " if m.group(1) else "") + REDACTED, text)


class CloudLoggingFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(timestamp="time", json_ensure_ascii=False)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["severity"] = record.levelname
        log_record["logger"] = record.name
        log_record.pop("levelname", None)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
