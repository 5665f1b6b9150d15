"""Per-user downstream credentials from the platform: resolver, cache, webhook invalidation.

Tool handlers use ``user_credential(provider)``; see docs/credentials.md.
"""

from mcp_auth.credentials.access import credential_scope, forget_user_credential, user_credential
from mcp_auth.credentials.model import Credential, CredentialNotConnected
from mcp_auth.credentials.platform import PlatformClient
from mcp_auth.credentials.resolver import CredentialResolver
from mcp_auth.credentials.setup import CredentialService, build_credentials
from mcp_auth.credentials.signature import sign
from mcp_auth.credentials.versions import CredentialVersions
from mcp_auth.credentials.webhook import CredentialWebhook

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
