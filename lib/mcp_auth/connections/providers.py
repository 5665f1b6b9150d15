"""Downstream OAuth 2 providers users connect their accounts to, as configuration.

    MCP_AUTH_CONNECTIONS='[{"name": "github", "client_id": "Iv1.…", "client_secret": "acme-mcp-connect-github"},
                           {"name": "acme", "type": "oauth2", "authorize_url": "https://id.acme.example/authorize",
                            "token_url": "https://id.acme.example/token", "scopes": ["read"], …}]'

``type`` is ``github`` (GitHub's OAuth app endpoints by default, its grant-deletion API for revocation)
or ``oauth2`` (any provider: the URLs are required, revocation is RFC 7009 where ``revoke_url`` is set).
``client_secret`` is the *name* of the Secret Manager secret holding the client secret, never its value.
This module only parses and validates; it imports no HTTP stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError

SETTING = "MCP_AUTH_CONNECTIONS"
TYPES = ("github", "oauth2")
MAX_PROVIDERS = 32
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")  # RFC 6749 scope-token
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,256}")
_SECRET_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}|projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}")
_KEYS = {
    "name",
    "type",
    "display_name",
    "authorize_url",
    "token_url",
    "revoke_url",
    "api_url",
    "scopes",
    "client_id",
    "client_secret",
    "pkce",
}

#: GitHub's endpoints (an OAuth app); GitHub Enterprise Server: set the three URLs and api_url.
GITHUB = {
    "display_name": "GitHub",
    "authorize_url": "https://github.com/login/oauth/authorize",
    "token_url": "https://github.com/login/oauth/access_token",  # nosec B105 - the endpoint's URL, not a secret
    "api_url": "https://api.github.com",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionProvider:
    """One downstream provider: where its users consent, where codes become tokens, who this server is there."""

    name: str
    type: str = "oauth2"
    display_name: str = ""
    authorize_url: str = ""
    token_url: str = ""
    revoke_url: str | None = None
    """RFC 7009 revocation endpoint (``oauth2``); for ``github`` the API's grant deletion is used instead."""
    api_url: str | None = None
    """``github``: the REST API base (``https://api.github.com``), whose grant endpoint revokes."""
    scopes: tuple[str, ...] = ()
    client_id: str = ""
    client_secret: str = field(default="", repr=True)
    """The Secret Manager secret *name* holding the client secret."""
    pkce: bool = True

    @property
    def label(self) -> str:
        return self.display_name or self.name


def connection_providers(value: Any, *, on_cloud_run: bool = False) -> tuple[ConnectionProvider, ...]:
    """The providers of ``MCP_AUTH_CONNECTIONS`` (parsed JSON, or providers already built), validated."""
    if value in (None, "", ()):
        return ()
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{SETTING} must be a JSON list of provider objects.")
    if len(value) > MAX_PROVIDERS:
        raise ConfigError(f"{SETTING} lists {len(value)} providers; at most {MAX_PROVIDERS}.")
    providers = tuple(
        _validated(item if isinstance(item, ConnectionProvider) else _from_mapping(item), on_cloud_run)
        for item in value
    )
    names = [p.name for p in providers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{SETTING} names {', '.join(duplicates)} more than once.")
    return providers


def provider_secret_names(providers: Iterable[ConnectionProvider]) -> tuple[str, ...]:
    return tuple(p.client_secret for p in providers)


def _from_mapping(item: Any) -> ConnectionProvider:
    if not isinstance(item, Mapping):
        raise ConfigError(f"Each entry of {SETTING} must be a JSON object, got {type(item).__name__}.")
    unknown = sorted(str(k)[:40] for k in item if k not in _KEYS)
    if unknown:
        raise ConfigError(f"{SETTING}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}.")
    values = dict(item)
    kind = values.get("type", "github" if values.get("name") == "github" else "oauth2")
    if kind not in TYPES:
        raise ConfigError(f"{SETTING}: type must be one of {', '.join(TYPES)}, got {str(kind)[:40]!r}.")
    values["type"] = kind
    if kind == "github":
        values = {**GITHUB, **{k: v for k, v in values.items() if v is not None}}
    scopes = values.get("scopes", ())
    if isinstance(scopes, str) or not isinstance(scopes, (list, tuple)):
        raise ConfigError(f"{SETTING}: scopes must be a list of strings.")
    values["scopes"] = tuple(scopes)
    for key in ("name", "display_name", "authorize_url", "token_url", "client_id", "client_secret"):
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f"{SETTING}: {key} must be a string.")
    if "pkce" in values and not isinstance(values["pkce"], bool):
        raise ConfigError(f"{SETTING}: pkce must be true or false.")
    return ConnectionProvider(**values)


def _validated(provider: ConnectionProvider, on_cloud_run: bool) -> ConnectionProvider:
    where = f"{SETTING} ({provider.name[:64]!r})" if isinstance(provider.name, str) else SETTING
    if not isinstance(provider.name, str) or not _NAME.fullmatch(provider.name):
        raise ConfigError(
            f"{SETTING}: name must be 1-64 lower-case letters, digits, '-' and '_', starting with a letter or digit."
        )
    if provider.type not in TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(TYPES)}.")
    if len(provider.display_name) > 64 or any(not c.isprintable() for c in provider.display_name):
        raise ConfigError(f"{where}: display_name must be at most 64 printable characters.")
    for key in ("authorize_url", "token_url", "revoke_url", "api_url"):
        value = getattr(provider, key)
        if value is None and key in ("revoke_url", "api_url"):
            continue
        _check_url(where, key, value, on_cloud_run)
    if not _CLIENT_ID.fullmatch(provider.client_id):
        raise ConfigError(f"{where}: client_id is required (1-256 printable characters, no spaces).")
    if not _SECRET_NAME.fullmatch(provider.client_secret):
        raise ConfigError(
            f"{where}: client_secret must name the Secret Manager secret holding the client secret "
            "(letters, digits, '-' and '_'), not hold the secret itself."
        )
    bad = [s[:40] for s in provider.scopes if not isinstance(s, str) or not _SCOPE.fullmatch(s)]
    if bad or len(provider.scopes) > 64:
        raise ConfigError(f"{where}: scopes must be at most 64 OAuth scope tokens; not valid: {bad!r}.")
    return provider


def _check_url(where: str, key: str, value: Any, on_cloud_run: bool) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError(f"{where}: {key} must be an absolute http(s) URL, got {str(value)[:100]!r}.")
    if parts.username or parts.password:
        raise ConfigError(f"{where}: {key} must not carry credentials.")
    if on_cloud_run and parts.scheme != "https":
        raise ConfigError(f"{where}: {key} must be https:// on Cloud Run.")
