"""The request being served, for the code that serves it: one context variable, set once.

The MCP endpoint (and ``mcp-auth stdio``) sets a ``RequestContext`` before the user's MCP
server sees the request; handlers reach what they need through it:

    current_user()        who is calling: user id, auth method, effective scopes, record
    user_store()          the caller's own data (``users/{uid}/…``), and nothing else
    user_credential(p)    the caller's downstream credential (``credentials/access.py``)

It is a context variable, so concurrent requests on one instance never see each other's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp_auth.errors import McpAuthError
from mcp_auth.principal import Principal
from mcp_auth.store.users import UserRecord

if TYPE_CHECKING:
    from mcp_auth.credentials.model import Resolver
    from mcp_auth.observe import RequestRecord
    from mcp_auth.store.handle import UserStore


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


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything one request's handlers may reach: the user, their store, their credentials, the log record."""

    user: UserContext
    stores: Callable[[str], UserStore]
    """``uid -> UserStore`` on the deployment's database (only ever called with ``user.user_id``)."""
    record: RequestRecord | None = None
    resolver: Resolver | None = None
    user_token: str | None = None
    """The caller's bearer token, kept only when the platform wants it forwarded."""


class NoUserContext(McpAuthError):
    status = 500


_current: ContextVar[RequestContext | None] = ContextVar("mcp_auth_request", default=None)


def current_request() -> RequestContext:
    """The request being served; raises outside a request."""
    request = _current.get()
    if request is None:
        raise NoUserContext("current_user() was called outside an authenticated request: call it from a tool handler.")
    return request


def request_or_none() -> RequestContext | None:
    """The request being served, or None outside one (for code that also runs outside requests)."""
    return _current.get()


def current_user() -> UserContext:
    """The user of the request being served; raises outside a request."""
    return current_request().user


def user_store() -> UserStore:
    """The store handle of the caller of the current request (raises outside a request)."""
    request = current_request()
    return request.stores(request.user.user_id)


@contextmanager
def request_context(request: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(request)
    try:
        yield request
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
