"""Per-user downstream credentials from the platform: resolver, cache, webhook invalidation.

Tool handlers use ``user_credential(provider)``; see docs/credentials.md. The names below are
loaded on first use, so a deployment without a platform never imports the platform client's
HTTP stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp_auth.credentials.access import credential_scope, forget_user_credential, user_credential
    from mcp_auth.credentials.model import Credential, CredentialNotConnected
    from mcp_auth.credentials.platform import PlatformClient
    from mcp_auth.credentials.resolver import CredentialResolver
    from mcp_auth.credentials.setup import CredentialService, build_credentials
    from mcp_auth.credentials.signature import sign
    from mcp_auth.credentials.versions import CredentialVersions
    from mcp_auth.credentials.webhook import CredentialWebhook

_HOMES = {
    "Credential": "model",
    "CredentialNotConnected": "model",
    "CredentialResolver": "resolver",
    "CredentialService": "setup",
    "CredentialVersions": "versions",
    "CredentialWebhook": "webhook",
    "PlatformClient": "platform",
    "build_credentials": "setup",
    "credential_scope": "access",
    "forget_user_credential": "access",
    "sign": "signature",
    "user_credential": "access",
}

__all__ = [
    "Credential",
    "CredentialNotConnected",
    "CredentialResolver",
    "CredentialService",
    "CredentialVersions",
    "CredentialWebhook",
    "PlatformClient",
    "build_credentials",
    "credential_scope",
    "forget_user_credential",
    "sign",
    "user_credential",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
