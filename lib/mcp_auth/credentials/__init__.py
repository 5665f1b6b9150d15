"""Per-user downstream credentials from the platform: resolver, cache, webhook invalidation.

Tool handlers use ``user_credential(provider)``; see docs/credentials.md. The names below are
loaded on first use, so a deployment without a platform never imports the platform client's
HTTP stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp_auth.credentials.access import forget_user_credential, user_credential
    from mcp_auth.credentials.model import Credential, CredentialNotConnected, CredentialsNotConfigured
    from mcp_auth.credentials.platform import PlatformClient
    from mcp_auth.credentials.resolver import CredentialResolver
    from mcp_auth.credentials.setup import CredentialService, build_credentials
    from mcp_auth.credentials.signature import sign
    from mcp_auth.credentials.webhook import CredentialWebhook
    from mcp_auth.store.credential_versions import CredentialVersions

_HOMES = {
    "Credential": "model",
    "CredentialNotConnected": "model",
    "CredentialsNotConfigured": "model",
    "CredentialResolver": "resolver",
    "CredentialService": "setup",
    "CredentialVersions": "store.credential_versions",
    "CredentialWebhook": "webhook",
    "PlatformClient": "platform",
    "build_credentials": "setup",
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
    "CredentialsNotConfigured",
    "PlatformClient",
    "build_credentials",
    "forget_user_credential",
    "sign",
    "user_credential",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"mcp_auth.{home}" if home.startswith("store.") else f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
