"""Secrets from Google Cloud Secret Manager: named, cached, rotated, never logged."""

from mcp_auth.secrets.errors import (
    SecretManagerUnreachable,
    SecretNotFound,
    SecretVersionDestroyed,
    SecretVersionDisabled,
)
from mcp_auth.secrets.store import SecretStore

__all__ = [
    "SecretManagerUnreachable",
    "SecretNotFound",
    "SecretStore",
    "SecretVersionDestroyed",
    "SecretVersionDisabled",
]
