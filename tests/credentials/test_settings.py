"""Settings for the platform, the webhook and the credential cache."""

from __future__ import annotations

import pytest

from mcp_auth.config import Settings
from mcp_auth.credentials import build_credentials
from mcp_auth.credentials.webhook import PATH
from mcp_auth.errors import ConfigError
from mcp_auth.secrets import SecretStore

BASE = {
    "MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp",
    "MCP_AUTH_PROVIDERS": "jwt",
    "MCP_AUTH_JWT_ISSUER": "https://issuer.example.com/",
    "MCP_AUTH_JWT_JWKS_URL": "https://issuer.example.com/jwks",
    "GOOGLE_CLOUD_PROJECT": "demo-project",
}
PLATFORM = {"MCP_AUTH_PLATFORM_URL": "https://platform.example.com", "MCP_AUTH_PLATFORM_TOKEN_SECRET": "platform-token"}


def test_the_platform_settings_are_read_and_their_secrets_required_at_start():
    settings = Settings.from_env(
        {
            **BASE,
            **PLATFORM,
            "MCP_AUTH_WEBHOOK_SECRET": "webhook-key",
            "MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN": "true",
            "MCP_AUTH_CREDENTIAL_CACHE_TTL": "60",
        }
    )
    assert settings.platform_url == "https://platform.example.com"
    assert settings.platform_forward_user_token is True
    assert settings.credential_cache_ttl == 60
    assert {"platform-token", "webhook-key"} <= set(settings.secret_names)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MCP_AUTH_PLATFORM_URL": "https://platform.example.com"}, "MCP_AUTH_PLATFORM_TOKEN_SECRET"),
        ({"MCP_AUTH_WEBHOOK_SECRET": "webhook-key"}, "need MCP_AUTH_PLATFORM_URL"),
        ({**PLATFORM, "MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN": "maybe"}, "true or false"),
        ({**PLATFORM, "MCP_AUTH_CREDENTIAL_CACHE_TTL": "0"}, "between 1 and 3600"),
        ({**PLATFORM, "MCP_AUTH_PLATFORM_URL": "ftp://platform"}, "absolute http"),
    ],
)
def test_bad_platform_settings_stop_the_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **env})


def test_a_plain_http_platform_is_refused_on_cloud_run():
    with pytest.raises(ConfigError, match="https:// on Cloud Run"):
        Settings.from_env({**BASE, **PLATFORM, "MCP_AUTH_PLATFORM_URL": "http://platform.internal", "K_SERVICE": "mcp"})


def test_the_webhook_route_exists_only_with_its_secret():
    store = SecretStore(project="demo-project")
    without = build_credentials(Settings.from_env({**BASE, **PLATFORM}), store)
    with_hook = build_credentials(Settings.from_env({**BASE, **PLATFORM, "MCP_AUTH_WEBHOOK_SECRET": "k"}), store)
    assert without is not None and without.routes == {}
    assert with_hook is not None and list(with_hook.routes) == [PATH]
    assert build_credentials(Settings.from_env(BASE), store) is None
