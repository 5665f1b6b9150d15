"""Errors raised by the secret store, all under ``SecretUnavailable`` (HTTP 503).

    SecretUnavailable               (mcp_auth.errors)
    ├── SecretNotFound              the secret, or the requested version, does not exist
    ├── SecretVersionDisabled       the version exists but is disabled
    ├── SecretVersionDestroyed      the version was destroyed; its payload is gone
    └── SecretManagerUnreachable    Secret Manager did not answer and no usable cached copy is left

Messages name the secret (its resource name) and say what to do; they never
contain a secret value.
"""

from __future__ import annotations

from mcp_auth.errors import SecretUnavailable


class SecretNotFound(SecretUnavailable):
    """The secret, or the requested version of it, does not exist.

    ``secret_exists`` is False when the secret itself is missing, True when only the
    version is missing, None when Secret Manager did not say which.
    """

    def __init__(self, secret: str, version: str, *, project: str, secret_exists: bool | None) -> None:
        self.secret = secret
        self.version = version
        self.secret_exists = secret_exists
        if secret_exists is False:
            message = (
                f"Secret '{secret}' does not exist in project '{project}': "
                "create it and add a version, or fix the configured name."
            )
        elif secret_exists and version == "latest":
            message = f"Secret '{secret}' in project '{project}' has no enabled version: add a version or enable one."
        elif secret_exists:
            message = (
                f"Version {version} of secret '{secret}' in project '{project}' does not exist: "
                "fix the pinned version or use 'latest'."
            )
        else:
            message = (
                f"Secret '{secret}' (version {version}) was not found in project '{project}': "
                "check that the secret exists, has that version enabled, and the configured name is right."
            )
        super().__init__(message)


class SecretVersionDisabled(SecretUnavailable):
    """The requested version exists but is disabled."""

    def __init__(self, secret: str, version: str, *, project: str) -> None:
        self.secret = secret
        self.version = version
        super().__init__(
            f"Version {version} of secret '{secret}' in project '{project}' is disabled: "
            "enable it, or add a new version and point the configuration at it."
        )


class SecretVersionDestroyed(SecretUnavailable):
    """The requested version was destroyed and cannot be read again."""

    def __init__(self, secret: str, version: str, *, project: str) -> None:
        self.secret = secret
        self.version = version
        super().__init__(
            f"Version {version} of secret '{secret}' in project '{project}' is destroyed: "
            "add a new version and point the configuration at it."
        )


class SecretManagerUnreachable(SecretUnavailable):
    """Secret Manager could not be reached and no usable cached copy is left."""

    def __init__(self, message: str, *, secret: str) -> None:
        self.secret = secret
        super().__init__(message)
