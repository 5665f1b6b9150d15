"""mcp_auth: authenticated, multi-tenant MCP servers on Cloud Run functions.

The public API is what this module exports; everything else may change. A team's code
in ``functions/`` needs nothing else:

    Toolset, ToolsetFactory, tool, resource, prompt     what a team hands the framework
    TasksExtension, TaskPolicy, task_elicit, task_input long tool calls the client polls
    current_user, user_store, user_credential, http_client   what a handler calls
    NotFound, Conflict, McpAuthError, …                 errors a handler may raise or meet
"""

from typing import TYPE_CHECKING, Any

from mcp_auth._version import __version__ as __version__  # mcp_auth.__version__, outside __all__
from mcp_auth.app import McpAuthApp, wrap_server
from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.config import Settings
from mcp_auth.context import UserContext, current_user, user_store
from mcp_auth.credentials.access import forget_user_credential, user_credential
from mcp_auth.credentials.model import Credential, CredentialNotConnected, CredentialsNotConfigured
from mcp_auth.errors import (
    AuthError,
    ConfigError,
    CredentialUnavailable,
    DisabledUser,
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    JwksUnavailable,
    McpAuthError,
    MissingToken,
    SecretUnavailable,
    StoreUnavailable,
    UnknownUser,
    UpstreamError,
    UserError,
    WrongAudience,
)
from mcp_auth.principal import Principal
from mcp_auth.store.documents import Conflict, Document, NotFound, UserCollection
from mcp_auth.store.handle import UserStore
from mcp_auth.store.users import UserRecord
from mcp_auth.toolsets import Toolset, ToolsetFactory, ToolsetPrompt, ToolsetResource, prompt, resource, tool

if TYPE_CHECKING:
    from mcp_auth.http import http_client
    from mcp_auth.tasks import TaskPolicy, TasksExtension, task_elicit, task_input

#: Names loaded on first use, and their modules: a deployment that uses neither pays nothing for them at a cold
#: start (``http_client`` imports httpx, which a request that calls out to nobody never needs; tasks are off
#: unless a factory adds ``TasksExtension``).
_LAZY = {
    "http_client": "mcp_auth.http",
    "TaskPolicy": "mcp_auth.tasks",
    "TasksExtension": "mcp_auth.tasks",
    "task_elicit": "mcp_auth.tasks",
    "task_input": "mcp_auth.tasks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mcp_auth' has no attribute {name!r}")


__all__ = [
    "AuthError",
    "AuthProvider",
    "ConfigError",
    "Conflict",
    "Credential",
    "CredentialNotConnected",
    "CredentialUnavailable",
    "Credentials",
    "CredentialsNotConfigured",
    "DisabledUser",
    "Document",
    "ExpiredToken",
    "InsufficientScope",
    "InvalidToken",
    "JwksUnavailable",
    "McpAuthApp",
    "McpAuthError",
    "MissingToken",
    "NotFound",
    "Principal",
    "SecretUnavailable",
    "Settings",
    "StoreUnavailable",
    "TaskPolicy",
    "TasksExtension",
    "Toolset",
    "ToolsetFactory",
    "ToolsetPrompt",
    "ToolsetResource",
    "UnknownUser",
    "UpstreamError",
    "UserCollection",
    "UserContext",
    "UserError",
    "UserRecord",
    "UserStore",
    "WrongAudience",
    "current_user",
    "forget_user_credential",
    "http_client",
    "prompt",
    "resource",
    "task_elicit",
    "task_input",
    "tool",
    "user_credential",
    "user_store",
    "wrap_server",
]
