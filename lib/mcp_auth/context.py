"""The caller of the current request, for tool handlers.

``wrap_server`` sets it before the MCP server sees the request; tool handlers
call ``current_user()``. It is a context variable, so concurrent requests on
one instance never see each other's caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mcp_auth.errors import McpAuthError
from mcp_auth.principal import Principal
from mcp_auth.store.users import UserRecord


@dataclass(frozen=True, slots=True)
class UserContext:
    """The authenticated user of this request.

    ``scopes`` are the effective scopes: those the credential grants,
    narrowed to those the user record allows.
    """

    principal: Principal
    record: UserRecord
    scopes: frozenset[str]

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def auth_method(self) -> str:
        return self.principal.auth_method


class NoUserContext(McpAuthError):
    status = 500


_current: ContextVar[UserContext | None] = ContextVar("mcp_auth_current_user", default=None)


def current_user() -> UserContext:
    """The user of the request being served; raises outside a request."""
    user = _current.get()
    if user is None:
        raise NoUserContext(
            "current_user() was called outside an authenticated request: call it from a tool handler."
        )
    return user


@contextmanager
def user_context(user: UserContext) -> Iterator[UserContext]:
    token = _current.set(user)
    try:
        yield user
    finally:
        _current.reset(token)


def effective_scopes(principal: Principal, record: UserRecord) -> frozenset[str]:
    """What this request may do: the credential's scopes within the record's.

    The development provider carries no scopes of its own, so it gets the
    record's.
    """
    if principal.auth_method == "dev":
        return record.scopes
    return principal.scopes & record.scopes
