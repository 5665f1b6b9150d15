"""JSON from untrusted clients, in time linear in its size and to a bounded depth.

Every JSON body or document the framework parses before (or without) authentication goes
through ``loads``: the MCP body at the edge, ``/oauth/register``, client metadata documents.
A document nested deeper than the limit is refused before it is parsed, so neither the
parser nor any code that walks the result recurses without bound (Python's parser would
raise ``RecursionError`` a little under 1,000 levels, which used to surface as a 500).

The depth scan is linear: strings are removed with one regex whose quantifiers are
possessive (``*+``), so an unterminated string or a run of escapes is consumed once and
never re-scanned from each quote, then the brackets left are summed left to right.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64

# A string: a quote, then runs of ordinary bytes or escape pairs, then the closing quote if there
# is one. Possessive quantifiers: once consumed, never given back, so no start is scanned twice.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


class JsonTooDeep(ValueError):
    """The document nests arrays/objects deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels.")
        self.limit = limit


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects in ``data``, ignoring brackets inside strings."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def nested_deeper_than(data: bytes, limit: int) -> bool:
    """``json_depth(data) > limit``, stopping at the first bracket past the limit; a document with at most
    ``limit`` open brackets is not scanned."""
    if data.count(b"{") + data.count(b"[") <= limit:
        return False
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return any(depth > limit for depth in accumulate(map(_STEP.__getitem__, brackets)))


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted input. Raises ``ValueError`` (``JsonTooDeep`` for nesting
    deeper than ``max_depth``; ``json.JSONDecodeError`` or ``UnicodeDecodeError`` otherwise)."""
    raw = data.encode() if isinstance(data, str) else data
    if nested_deeper_than(raw, max_depth):
        raise JsonTooDeep(max_depth)
    try:
        return json.loads(raw)
    except RecursionError:  # unreachable after the depth check; kept so no caller ever sees it
        raise JsonTooDeep(max_depth) from None
