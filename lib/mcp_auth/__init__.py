"""mcp_auth: authenticated, multi-tenant MCP servers on Cloud Run functions.

The public API is what this module exports; everything else may change.
"""

from mcp_auth.app import McpAuthApp, wrap_server
from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.config import Settings
from mcp_auth.context import UserContext, current_user
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
from mcp_auth.store.users import UserRecord
from mcp_auth.tools import tool

__all__ = [
    "AuthError",
    "AuthProvider",
    "ConfigError",
    "CredentialUnavailable",
    "Credentials",
    "DisabledUser",
    "ExpiredToken",
    "InsufficientScope",
    "InvalidToken",
    "JwksUnavailable",
    "McpAuthApp",
    "McpAuthError",
    "MissingToken",
    "Principal",
    "SecretUnavailable",
    "Settings",
    "StoreUnavailable",
    "UnknownUser",
    "UpstreamError",
    "UserContext",
    "UserError",
    "UserRecord",
    "WrongAudience",
    "current_user",
    "tool",
    "wrap_server",
]
