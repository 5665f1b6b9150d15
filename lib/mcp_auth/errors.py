"""One error hierarchy for the whole framework.

    McpAuthError
    ├── ConfigError                 bad or missing setting; stops the start
    ├── AuthError                   401 unless stated
    │   ├── MissingToken            no credential sent
    │   ├── InvalidToken            malformed, bad signature, wrong issuer, ...
    │   │   ├── ExpiredToken
    │   │   └── WrongAudience
    │   └── InsufficientScope       403
    ├── UserError
    │   ├── UnknownUser             403 (first-login policy "reject")
    │   └── DisabledUser            403
    └── UpstreamError               503, retryable
        ├── JwksUnavailable
        ├── SecretUnavailable
        ├── StoreUnavailable
        └── CredentialUnavailable

Every error carries the HTTP status it maps to and a message that tells the
caller what went wrong and what to do next. Messages never contain secrets or
tokens.
"""

from __future__ import annotations


class McpAuthError(Exception):
    """Base class; ``status`` is the HTTP status this error maps to."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(McpAuthError):
    """A setting is missing, malformed or unsafe; raised at start-up."""

    status = 500


class AuthError(McpAuthError):
    """The request is not authenticated. ``error`` is the RFC 6750 error code."""

    status = 401
    error: str | None = "invalid_token"


class MissingToken(AuthError):
    error = None  # RFC 6750 §3.1: no error code when no credential was sent

    def __init__(self, message: str = "Authentication required: send 'Authorization: Bearer <token>'.") -> None:
        super().__init__(message)


class InvalidToken(AuthError):
    error = "invalid_token"


class ExpiredToken(InvalidToken):
    def __init__(self, message: str = "The token has expired: obtain a new one and retry.") -> None:
        super().__init__(message)


class SignedOut(InvalidToken):
    def __init__(
        self,
        message: str = "This credential was issued before the user was signed out ('mcp-auth users sign-out'): "
        "sign in again, or use an API key created since.",
    ) -> None:
        super().__init__(message)


class WrongAudience(InvalidToken):
    def __init__(self, message: str = "The token was issued for another resource (audience mismatch).") -> None:
        super().__init__(message)


class InsufficientScope(AuthError):
    status = 403
    error = "insufficient_scope"

    def __init__(self, required: list[str] | tuple[str, ...], message: str | None = None) -> None:
        self.required = tuple(required)
        super().__init__(message or f"This call needs scope(s): {' '.join(self.required)}.")


class UserError(McpAuthError):
    status = 403


class UnknownUser(UserError):
    def __init__(self, message: str = "This account is not registered on this server: ask an administrator.") -> None:
        super().__init__(message)


class DisabledUser(UserError):
    def __init__(self, message: str = "This account is disabled: ask an administrator to enable it.") -> None:
        super().__init__(message)


class UpstreamError(McpAuthError):
    """A dependency failed; the request may be retried later."""

    status = 503
    retry_after: int = 5


class JwksUnavailable(UpstreamError):
    pass


class SecretUnavailable(UpstreamError):
    pass


class StoreUnavailable(UpstreamError):
    pass


class CredentialUnavailable(UpstreamError):
    pass
