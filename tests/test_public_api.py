"""The public surface is what mcp_auth exports; changing it must be deliberate."""

import mcp_auth

EXPECTED = [
    "AuthError", "AuthProvider", "ConfigError", "CredentialUnavailable", "Credentials", "DisabledUser",
    "ExpiredToken", "InsufficientScope", "InvalidToken", "JwksUnavailable", "McpAuthApp", "McpAuthError",
    "MissingToken", "Principal", "SecretUnavailable", "Settings", "StoreUnavailable", "UnknownUser",
    "UpstreamError", "UserContext", "UserError", "UserRecord", "WrongAudience", "current_user", "tool",
    "wrap_server",
]


def test_exported_names_are_pinned_and_sorted():
    assert mcp_auth.__all__ == sorted(mcp_auth.__all__)
    assert mcp_auth.__all__ == EXPECTED
    for name in mcp_auth.__all__:
        assert hasattr(mcp_auth, name)


def test_current_user_outside_a_request_says_how_to_use_it():
    import pytest

    with pytest.raises(mcp_auth.McpAuthError, match="tool handler"):
        mcp_auth.current_user()
