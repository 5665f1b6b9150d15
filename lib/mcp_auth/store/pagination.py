"""Opaque page cursors: the sort key and document id of the last item a page returned.

A cursor is base64url JSON; it names a position in one user's ordering, never a
path, so a cursor forged or copied from another user only moves a position
within the caller's own data. Page sizes are bounded.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mcp_auth.errors import McpAuthError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
_MAX_CURSOR = 1024


class InvalidCursor(McpAuthError):
    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "The cursor is not one this server issued: start again without a cursor.")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the previous page ended: the value of the ordering field and the document id."""

    value: str | datetime
    doc_id: str
    kind: str

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        body = {"k": self.kind, "v": value, "t": isinstance(self.value, datetime), "i": self.doc_id}
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, kind: str) -> Cursor:
        if not isinstance(text, str) or not 0 < len(text) <= _MAX_CURSOR:
            raise InvalidCursor()
        try:
            body: Any = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidCursor() from None
        if not isinstance(body, dict) or body.get("k") != kind:
            raise InvalidCursor()
        value, doc_id = body.get("v"), body.get("i")
        if not isinstance(value, str) or not isinstance(doc_id, str) or not doc_id:
            raise InvalidCursor()
        if body.get("t") is True:
            try:
                return cls(value=datetime.fromisoformat(value), doc_id=doc_id, kind=kind)
            except ValueError:
                raise InvalidCursor() from None
        return cls(value=value, doc_id=doc_id, kind=kind)


def page_size(requested: int | None) -> int:
    """The page size to use: the default when unset, never more than ``MAX_PAGE_SIZE``."""
    if requested is None:
        return DEFAULT_PAGE_SIZE
    if not isinstance(requested, int) or requested < 1:
        raise McpAuthError(f"A page size is a whole number from 1 to {MAX_PAGE_SIZE}.")
    return min(requested, MAX_PAGE_SIZE)
