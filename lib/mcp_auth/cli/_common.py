"""What every ``mcp-auth`` command shares: argument validators and store access."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from mcp_auth.config import Settings

_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")  # RFC 6749 scope-token
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class UsageError(Exception):
    """A command was given something it cannot use; the message says what to fix."""


def csv(value: str, *, kind: str, pattern: re.Pattern[str]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if not pattern.fullmatch(item):
            raise UsageError(f"{item!r} is not a valid {kind}.")
    return sorted(set(items))


def scopes(value: str) -> list[str]:
    return csv(value, kind="scope (printable ASCII, no spaces, quotes or backslashes)", pattern=_SCOPE)


def toolsets(value: str) -> list[str]:
    return csv(value, kind="toolset name (lowercase letters, digits, - and _)", pattern=_NAME)


def bounded_int(name: str, low: int, high: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} takes a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between {low} and {high}, got {number}")
        return number

    return parse


async def user_repository(settings: Settings) -> Any:
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.users import UserRepository

    return UserRepository(firestore_client(project=settings.project, database=settings.firestore_database))


def show_record(record: Any) -> str:
    document = {"uid": record.uid, **record.to_document(), "version": record.version}
    return json.dumps(document, indent=2, sort_keys=True, default=lambda value: value.isoformat())
