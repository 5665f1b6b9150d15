"""The JSON log format, redaction, and what ``configure_logging`` does to handlers it did not install."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_auth.logs import REDACTED, CloudLoggingFormatter, configure_logging, redact


@pytest.fixture
def clean_root():
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield root
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer abcdefgh12345678",
        "mak_abcd1234_0123456789abcdef",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl",
    ],
)
def test_tokens_keys_and_jwts_are_redacted(secret):
    assert secret.split()[-1] not in redact(f"got {secret} from the client")
    assert REDACTED in redact(secret)


def test_a_line_is_one_json_object_with_cloud_logging_fields():
    record = logging.LogRecord(
        "mcp_auth.x", logging.WARNING, __file__, 1, "token %s", ("Bearer abcdefgh12345678",), None
    )
    line = json.loads(CloudLoggingFormatter().format(record))
    assert line["severity"] == "WARNING" and line["logger"] == "mcp_auth.x"
    assert "abcdefgh12345678" not in line["message"]


def test_configure_logging_replaces_console_handlers_and_keeps_others(clean_root):
    console = logging.StreamHandler(sys.stderr)
    kept, capture = logging.NullHandler(), logging.StreamHandler(io.StringIO())
    clean_root.handlers[:] = [console, kept, capture]
    out = io.StringIO()
    configure_logging("DEBUG", stream=out)
    assert console not in clean_root.handlers and kept in clean_root.handlers and capture in clean_root.handlers
    logging.getLogger("mcp_auth.test").info("hello")
    assert json.loads(out.getvalue().splitlines()[-1])["message"] == "hello"


def test_configure_logging_twice_adds_no_second_handler(clean_root):
    clean_root.handlers[:] = []
    configure_logging("INFO")
    configure_logging("WARNING")
    assert len(clean_root.handlers) == 1 and clean_root.level == logging.WARNING


def test_the_rich_handler_an_mcp_server_installs_is_replaced(clean_root):
    from mcp.server.mcpserver import MCPServer

    clean_root.handlers[:] = []
    MCPServer("built before the framework configures logging")  # basicConfig(RichHandler) on an empty root
    assert any(type(h).__module__.startswith("rich.") for h in clean_root.handlers)
    configure_logging("INFO", stream=io.StringIO())
    assert [type(h).__name__ for h in clean_root.handlers] == ["StreamHandler"]


_FRAGMENTS = ["Bearer ", "BASIC ", "bearer\t", "mak_", "eyJ", "abcd", "1234", ".", "_", "-", " ", "x" * 9, "É"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=12), max_size=30).map("".join))
def test_the_fast_path_never_skips_a_line_the_pattern_would_change(text):
    from mcp_auth.logs import _SECRET

    full = _SECRET.sub(lambda m: (m.group(1) + " " if m.group(1) else "") + REDACTED, text)
    assert redact(text) == full


# Client-chosen text (a tool name in an error, a header value) can reach a log line. Each of these,
# about 1 MiB, made the previous pattern rescan the rest of a run from every ``eyJ`` (quadratic: hours).
HOSTILE_LINES = {
    "jwt headers without dots": "eyJ" * 350_000,
    "jwt-like segments": "eyJabcdefgh." * 90_000,
    "api key prefixes": "mak_abcd" * 130_000,
    "bearer words": "Bearer " * 150_000,
    "bearer then whitespace": "bearer" + " " * 1_000_000 + "!",
    "mixed": "eyJaaaaaa.eyJ" * 80_000,
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("line", HOSTILE_LINES.values(), ids=HOSTILE_LINES.keys())
def test_redaction_is_linear_in_hostile_lines(line):
    assert len(redact(line)) <= len(line) + len(REDACTED)


def test_secrets_glued_to_a_separator_are_still_redacted():
    line = 'token=eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl "mak_abcd_efghijklmn" Authorization: Basic dXNlcjpwYXNz'
    assert "eyJhbGciOi" not in redact(line) and "efghijklmn" not in redact(line)
    assert "dXNlcjpwYXNz" not in redact(line)


async def test_a_task_started_in_a_request_and_outliving_it_logs_no_trace():
    import asyncio

    from mcp_auth.logs import bind_trace, trace_fields, unbind_trace

    formatter = CloudLoggingFormatter(env={})
    ended = asyncio.Event()

    async def later() -> dict:
        await ended.wait()
        return json.loads(formatter.format(logging.LogRecord("t", logging.INFO, __file__, 1, "after", (), None)))

    bound = bind_trace(trace_fields("projects/p/traces/" + "a" * 32, "b" * 16, True))
    during = json.loads(formatter.format(logging.LogRecord("t", logging.INFO, __file__, 1, "during", (), None)))
    task = asyncio.create_task(later())  # copies the request's context
    unbind_trace(bound)
    ended.set()
    assert during["logging.googleapis.com/spanId"] == "b" * 16
    assert not {k for k in await task if k.startswith("logging.googleapis.com/")}


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"httpRequest": {"status": 200, "latency": "0.001s"}, "user": "ünïcode ✓", "latency_ms": 1.5},
        {"when": __import__("datetime").datetime(2026, 12, 4, 18, 0), "items": [1, None, True], "obj": _Opaque()},
        {"note": "Bearer abcdefgh12345678 in an extra field", "nested": {"k": ["eyJhbGciOiJI.eyJzdWIiOi.sig"]}},
        {"_private": "skipped", "severity": "overridden by the level", "message": "ignored"},
    ],
    ids=["plain", "request-line", "non-json-types", "secrets", "reserved-names"],
)
@pytest.mark.parametrize("trace", [None, {"logging.googleapis.com/trace": "projects/p/traces/abc"}])
def test_the_short_path_for_plain_lines_writes_what_the_library_path_writes(extra, trace):
    from pythonjsonlogger.json import JsonFormatter

    from mcp_auth.logs import bind_trace, unbind_trace

    formatter = CloudLoggingFormatter(env={})
    token = bind_trace(dict(trace)) if trace else None
    try:

        def line(path) -> str:
            record = logging.LogRecord("mcp_auth.request", logging.INFO, __file__, 1, "POST /mcp %d", (200,), None)
            record.created = 1_796_400_000.123456  # both paths format the same instant
            for key, value in extra.items():
                if key != "message":  # LogRecord refuses to overwrite these through makeRecord; set them as-is
                    setattr(record, key, value)
            return path(record)

        short = line(formatter.format)
        library = line(lambda record: redact(JsonFormatter.format(formatter, record)))
    finally:
        if token is not None:
            unbind_trace(token)
    assert short == library
    assert json.loads(short)["message"] == "POST /mcp 200"
