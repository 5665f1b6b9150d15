"""Settings from the environment: validated at start, with messages that name the setting."""

from __future__ import annotations

import pytest

from mcp_auth.config import SETTINGS, Settings
from mcp_auth.errors import ConfigError

BASE = {
    "MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp",
    "MCP_AUTH_JWT_ISSUER": "https://issuer.example.com/",
    "MCP_AUTH_JWT_JWKS_URL": "https://issuer.example.com/jwks",
}


def test_defaults_are_secure():
    settings = Settings.from_env(BASE)
    assert settings.providers == ("jwt",)
    assert settings.jwt_audience == "https://mcp.example.com/mcp"  # audience bound to this resource
    assert settings.first_login == "reject"
    assert settings.allowed_origins == ()
    assert settings.metadata_url == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"MCP_AUTH_RESOURCE_URL": None}, "MCP_AUTH_RESOURCE_URL is required"),
        ({"MCP_AUTH_RESOURCE_URL": "mcp.example.com/mcp"}, "absolute http(s) URL"),
        ({"MCP_AUTH_RESOURCE_URL": "https://x/mcp?a=1"}, "query or fragment"),
        ({"MCP_AUTH_RESOURCE_URL": "javascript:alert(1)"}, "absolute http(s) URL"),
        ({"MCP_AUTH_JWT_ISSUER": None}, "MCP_AUTH_JWT_ISSUER is required"),
        ({"MCP_AUTH_JWT_JWKS_URL": None}, "needs a key source"),
        ({"MCP_AUTH_PROVIDERS": "jwt,magic"}, "unknown provider 'magic'"),
        ({"MCP_AUTH_PROVIDERS": " , "}, "MCP_AUTH_PROVIDERS is empty"),
        ({"MCP_AUTH_FIRST_LOGIN": "maybe"}, "MCP_AUTH_FIRST_LOGIN"),
        ({"MCP_AUTH_MAX_BODY_BYTES": "lots"}, "MCP_AUTH_MAX_BODY_BYTES must be a whole number"),
        ({"MCP_AUTH_MAX_BODY_BYTES": "9" * 40}, "MCP_AUTH_MAX_BODY_BYTES must be between"),
        ({"MCP_AUTH_SSE_KEEPALIVE": "0"}, "MCP_AUTH_SSE_KEEPALIVE must be between 1 and 60"),
        ({"MCP_AUTH_SSE_KEEPALIVE": "soon"}, "MCP_AUTH_SSE_KEEPALIVE must be a whole number"),
        ({"MCP_AUTH_JWT_LEEWAY": "3600"}, "MCP_AUTH_JWT_LEEWAY must be between 0 and 60"),
        ({"MCP_AUTH_JWT_HS256_KEY": "short"}, "at least 32 bytes"),
        ({"MCP_AUTH_PROVIDERS": "dev"}, "MCP_AUTH_DEV_USER is required"),
        ({"MCP_AUTH_PROVIDERS": "introspection"}, "MCP_AUTH_INTROSPECTION_URL"),
        ({"MCP_AUTH_PROVIDERS": "api_key"}, "MCP_AUTH_API_KEY_PEPPER_SECRET"),
        ({"MCP_AUTH_LOG_LEVEL": "chatty"}, "MCP_AUTH_LOG_LEVEL"),
        ({"MCP_AUTH_AUTHORIZATION_SERVERS": "not a url"}, "MCP_AUTH_AUTHORIZATION_SERVERS"),
        ({"MCP_AUTH_TYPO": "1"}, "Unknown setting(s) MCP_AUTH_TYPO"),
    ],
)
def test_bad_settings_stop_the_start_naming_the_setting(change, needle):
    env = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"MCP_AUTH_PROVIDERS": "dev", "MCP_AUTH_DEV_USER": "me"}, "refuses to start on Cloud Run"),
        ({"MCP_AUTH_JWT_HS256_KEY": "k" * 40}, "MCP_AUTH_JWT_HS256_KEY is for local development only"),
        (
            {"MCP_AUTH_PROVIDERS": "jwt,api_key", "MCP_AUTH_API_KEY_PEPPER": "p" * 40},
            "MCP_AUTH_API_KEY_PEPPER is for local development only",
        ),
        ({"MCP_AUTH_SECRET_MANAGER_ENDPOINT": "http://127.0.0.1:1"}, "MCP_AUTH_SECRET_MANAGER_ENDPOINT"),
        ({"MCP_AUTH_RESOURCE_URL": "http://mcp.example.com/mcp"}, "must be https:// on Cloud Run"),
    ],
)
def test_insecure_modes_refuse_to_start_on_cloud_run(change, needle):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, **change, "K_SERVICE": "mcp"})
    assert needle in str(caught.value)


def test_dev_provider_itself_refuses_cloud_run(monkeypatch):
    from mcp_auth.auth.dev import DevProvider

    monkeypatch.setenv("K_SERVICE", "mcp")
    with pytest.raises(ConfigError, match="Cloud Run"):
        DevProvider("me")


def test_secret_values_never_appear_in_repr():
    settings = Settings.from_env({**BASE, "MCP_AUTH_JWT_HS256_KEY": "s3cr3t-" * 8, "MCP_AUTH_JWT_JWKS_URL": ""})
    assert "s3cr3t" not in repr(settings)


def test_every_setting_is_described():
    assert all(description.endswith(".") and len(description) > 20 for description in SETTINGS.values())


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("tool_timeout", 0, "MCP_AUTH_TOOL_TIMEOUT must be between 1 and 3600"),
        ("max_body_bytes", 10, "MCP_AUTH_MAX_BODY_BYTES must be between"),
        ("first_login", "maybe", "MCP_AUTH_FIRST_LOGIN must be one of reject, create"),
        ("backchannel", "carrier-pigeon", "MCP_AUTH_BACKCHANNEL must be one of firestore, off"),
        ("jwt_leeway", True, "MCP_AUTH_JWT_LEEWAY must be a whole number"),
        ("rate_limit_user", "lots", "MCP_AUTH_RATE_LIMIT_USER"),
    ],
)
def test_settings_built_in_code_are_checked_like_settings_from_the_environment(field, value, needle):
    with pytest.raises(ConfigError, match=needle):
        Settings(
            resource_url="https://mcp.example.com/mcp",
            jwt_issuer="https://i.example/",
            jwt_jwks_url="https://i.example/jwks",
            **{field: value},
        )


def test_a_setting_is_declared_once_and_its_default_applies_whichever_way_settings_are_built():
    from_env = Settings.from_env(BASE)
    in_code = Settings(
        resource_url="https://mcp.example.com/mcp",
        jwt_issuer="https://issuer.example.com/",
        jwt_jwks_url="https://issuer.example.com/jwks",
    )
    assert from_env == in_code
    assert in_code.jwt_audience == in_code.resource_url and in_code.rate_limits.user.limit == 600


def test_docs_settings_md_is_generated_from_the_declarations():
    from pathlib import Path

    from mcp_auth.config import settings_markdown

    path = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
    assert path.read_text() == settings_markdown(), "docs/settings.md is out of date: run `make settings-doc`."
    for name in SETTINGS:
        assert f"`{name}`" in path.read_text()
