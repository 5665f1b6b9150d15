"""JSON from untrusted clients: linear depth scan, bounded depth, no RecursionError."""

from __future__ import annotations

import json

import pytest

from mcp_auth.bounded_json import MAX_DEPTH, JsonTooDeep, json_depth, loads, nested_deeper_than

MIB = 1024 * 1024

# Bodies that made the previous regex scan quadratic (or worse), each about 1 MiB: every quote
# started a string match that ran to the end of the body and failed.
PATHOLOGICAL = {
    "escaped quotes after deep brackets": b"[" * 65 + b'"' + b'\\"' * (MIB // 2),
    "escaped quotes ending in a lone backslash": b"[" * 65 + b'"' + b'\\"' * (MIB // 2) + b"\\",
    "unterminated string of backslashes": b"[" * 65 + b'"' + b"\\" * MIB,
    "only quotes": b"[" * 65 + b'"' * MIB,
    "alternating brackets and quotes": b'["' * (MIB // 2),
    "alternating open and close": b"[]" * (MIB // 2),
    "all open brackets": b"[" * MIB,
    "alternating kinds": b"{[" * (MIB // 2),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("body", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_bodies_are_scanned_in_linear_time(body):
    # 8 such scans of 1 MiB each take well under a second; a quadratic scan takes hours.
    depth = json_depth(body)
    assert depth >= 1
    with pytest.raises(ValueError):
        loads(body)


def test_brackets_inside_strings_do_not_count():
    assert json_depth(json.dumps({"a": "[[[[{{{{", "b": [[1]]}).encode()) == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b'["\\\\", [[]]]') == 3  # an escaped backslash ends before the closing quote


def test_depth_check_agrees_with_the_scan_when_it_skips_it():
    shallow = json.dumps({"a": [[1]], "b": "{" * 200}).encode()  # brackets in a string are counted, then scanned
    deep = b"[" * 65 + b"]" * 65
    assert not nested_deeper_than(shallow, MAX_DEPTH)
    assert nested_deeper_than(deep, MAX_DEPTH) and not nested_deeper_than(deep, 65)
    assert not nested_deeper_than(b"[" * 64 + b"]" * 64, MAX_DEPTH)


def test_loads_refuses_deep_documents_with_a_clear_error():
    with pytest.raises(JsonTooDeep, match="deeper than 64"):
        loads(b"[" * 8000 + b"]" * 8000)
    with pytest.raises(JsonTooDeep):
        loads("{" + '"a":{' * 100 + "}" * 101)


def test_loads_accepts_what_json_accepts_within_the_limit():
    document = {"a": [1, 2, {"b": "[{"}], "c": None, "d": "é"}
    assert loads(json.dumps(document)) == document
    assert loads(json.dumps(document).encode()) == document
    nested: list = []
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    assert loads(json.dumps(nested)) == nested


@pytest.mark.parametrize("bad", [b"", b"{", b"\xff\xfe\x00", b'{"a": }', b"[1,]", "\ud800"])
def test_malformed_input_is_a_value_error(bad):
    with pytest.raises(ValueError):
        loads(bad)
