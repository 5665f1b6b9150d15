"""MCP_AUTH_CONNECTIONS: the downstream providers users connect, parsed and validated at start-up."""

from __future__ import annotations

import json

import pytest

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError

BASE = {"MCP_AUTH_RESOURCE_URL": "https://mcp.example/mcp", "MCP_AUTH_PROVIDERS": "dev", "MCP_AUTH_DEV_USER": "a"}
KEYS = {"MCP_AUTH_CONNECTIONS_KEY_SECRET": "vault-key", "MCP_AUTH_CONNECT_LINK_KEY_SECRET": "link-key"}
GITHUB = {"name": "github", "client_id": "Iv1.abc", "client_secret": "gh-client-secret"}
ACME = {
    "name": "acme",
    "authorize_url": "https://id.acme.example/authorize",
    "token_url": "https://id.acme.example/token",
    "revoke_url": "https://id.acme.example/revoke",
    "scopes": ["read", "write"],
    "client_id": "mcp",
    "client_secret": "acme-client-secret",
}


def settings(providers: object, **env: str) -> Settings:
    return Settings.from_env({**BASE, **KEYS, "MCP_AUTH_CONNECTIONS": json.dumps(providers), **env})


def test_github_takes_githubs_endpoints_and_a_generic_provider_its_own() -> None:
    github, acme = settings([GITHUB, ACME]).connections
    assert (github.type, github.display_name) == ("github", "GitHub")
    assert github.authorize_url == "https://github.com/login/oauth/authorize"
    assert github.token_url == "https://github.com/login/oauth/access_token"
    assert github.api_url == "https://api.github.com"
    assert (acme.type, acme.scopes, acme.revoke_url, acme.pkce) == (
        "oauth2",
        ("read", "write"),
        ACME["revoke_url"],
        True,
    )


def test_client_secrets_and_keys_are_secrets_read_at_start_up() -> None:
    assert set(settings([GITHUB, ACME]).secret_names) >= {
        "vault-key",
        "link-key",
        "gh-client-secret",
        "acme-client-secret",
    }


def test_github_enterprise_overrides_the_endpoints() -> None:
    (github,) = settings([{**GITHUB, "api_url": "https://ghe.acme.example/api/v3"}]).connections
    assert github.api_url == "https://ghe.acme.example/api/v3"


@pytest.mark.parametrize(
    ("providers", "needle"),
    [
        ({"name": "github"}, "JSON list"),
        ([{**ACME, "token_url": None}], "token_url"),
        ([{**ACME, "authorize_url": "ftp://x"}], "authorize_url"),
        ([{**ACME, "name": "Acme!"}], "name must be"),
        ([ACME, ACME], "more than once"),
        ([{**ACME, "client_secret": "s3cr3t value with spaces"}], "not hold the secret"),
        ([{**ACME, "client_id": ""}], "client_id"),
        ([{**ACME, "scopes": "read"}], "scopes"),
        ([{**ACME, "scopes": ["a b"]}], "scope"),
        ([{**ACME, "colour": "red"}], "unknown field"),
        ([{**ACME, "type": "saml"}], "type must be"),
        ([{**ACME, "revoke_url": "https://u:p@id.acme.example/r"}], "credentials"),
        ([ACME] * 33, "at most 32"),
    ],
)
def test_bad_providers_stop_the_start_naming_the_setting(providers: object, needle: str) -> None:
    with pytest.raises(ConfigError, match="MCP_AUTH_CONNECTIONS") as info:
        settings(providers)
    assert needle in str(info.value)


def test_not_json_and_oversized_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="must be JSON"):
        Settings.from_env({**BASE, **KEYS, "MCP_AUTH_CONNECTIONS": "[{"})
    with pytest.raises(ConfigError, match="longer than"):
        Settings.from_env({**BASE, **KEYS, "MCP_AUTH_CONNECTIONS": " " * 70_000})


def test_providers_need_both_keys_and_keys_need_providers() -> None:
    with pytest.raises(ConfigError, match="MCP_AUTH_CONNECT_LINK_KEY_SECRET"):
        Settings.from_env(
            {**BASE, "MCP_AUTH_CONNECTIONS_KEY_SECRET": "k", "MCP_AUTH_CONNECTIONS": json.dumps([GITHUB])}
        )
    with pytest.raises(ConfigError, match="need MCP_AUTH_CONNECTIONS"):
        Settings.from_env({**BASE, **KEYS})


def test_http_endpoints_are_refused_on_cloud_run() -> None:
    local = {**ACME, "token_url": "http://127.0.0.1:9/token"}
    assert settings([local]).connections[0].token_url == "http://127.0.0.1:9/token"
    with pytest.raises(ConfigError, match="https:// on Cloud Run"):
        Settings(
            resource_url="https://mcp.example/mcp",
            providers=("api_key",),
            api_key_pepper_secret="p",
            on_cloud_run=True,
            connections=({**local},),  # type: ignore[arg-type]
            connections_key_secret="k",
            connect_link_key_secret="l",
        )
