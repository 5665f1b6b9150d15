"""The credential webhook's signature: HMAC-SHA256 over ``"{timestamp}.{body}"``.

    X-Webhook-Timestamp: 1767225600                         (Unix seconds, when the platform signed)
    X-Webhook-Signature: v1=<64 lower-case hex digits>[, v1=<...>]

The key is a Secret Manager secret; during a rotation the receiver accepts the
two newest enabled versions and the sender may send one ``v1=`` per key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
REPLAY_WINDOW = 300
"""Seconds a signed request stays acceptable, either side of the receiver's clock."""

_ENTRY = re.compile(r"v1=([0-9a-f]{64})")


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Webhook-Signature`` value for ``body`` signed at ``timestamp``."""
    return "v1=" + _mac(key, timestamp, body)


def _mac(key: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def parse_signatures(header: str) -> list[str] | None:
    """The hex digests in a signature header, or None if it is malformed."""
    entries = [part.strip() for part in header.split(",")]
    if not entries or len(entries) > 4:
        return None
    digests = []
    for entry in entries:
        match = _ENTRY.fullmatch(entry)
        if match is None:
            return None
        digests.append(match.group(1))
    return digests


def matches(keys: Iterable[bytes], timestamp: int, body: bytes, digests: list[str]) -> bool:
    """True if any digest is the MAC of the body under any key (constant-time comparisons)."""
    found = False
    for key in keys:
        expected = _mac(key, timestamp, body)
        for digest in digests:
            found |= hmac.compare_digest(expected, digest)
    return found
