"""What a test authorization server is started with: clients, accounts, resources.

Client secrets are generated here, per server, and never written anywhere but
the server's own settings file in the test's temporary directory.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
DEFAULT_SCOPES = ("tools:read", "tools:write", "tools:admin")

PUBLIC_CLIENT = "mcp-client"  # public (PKCE only): authorization code + refresh token
CONFIDENTIAL_CLIENT = "web-client"  # client_secret_basic: authorization code + refresh token
SERVICE_CLIENT = "service"  # client_secret_basic: client credentials
INTROSPECTION_CLIENT = "resource-server"  # client_secret_basic: may introspect any token


def default_clients() -> list[dict[str, Any]]:
    """The standard clients, each confidential one with a fresh secret."""
    grants = ["authorization_code", "refresh_token"]
    return [
        {
            "client_id": PUBLIC_CLIENT,
            "client_name": "MCP test client",
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "grant_types": grants,
            "response_types": ["code"],
            "redirect_uris": [DEFAULT_REDIRECT_URI],
        },
        {
            "client_id": CONFIDENTIAL_CLIENT,
            "client_secret": secrets.token_urlsafe(32),
            "grant_types": grants,
            "response_types": ["code"],
            "redirect_uris": [DEFAULT_REDIRECT_URI],
        },
        {
            "client_id": SERVICE_CLIENT,
            "client_secret": secrets.token_urlsafe(32),
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
        },
        {
            "client_id": INTROSPECTION_CLIENT,
            "client_secret": secrets.token_urlsafe(32),
            "grant_types": [],
            "response_types": [],
            "redirect_uris": [],
        },
    ]


def default_accounts() -> dict[str, dict[str, Any]]:
    return {
        "alice": {"email": "alice@example.com", "email_verified": True, "hd": "example.com", "name": "Alice"},
        "bob": {"email": "bob@example.org", "email_verified": True, "hd": "example.org", "name": "Bob"},
        "carol": {"email": "carol@example.net", "email_verified": False, "name": "Carol"},
    }


def resource(
    *,
    scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
    alg: str = "RS256",
    format: str = "jwt",
    ttl: int = 600,
    audience: str | None = None,
) -> dict[str, Any]:
    """A resource server definition: its scopes, token format (jwt|opaque), signing alg (RS256|ES256),
    access-token lifetime in seconds, and `aud` (the resource URL itself unless given)."""
    definition: dict[str, Any] = {"scopes": list(scopes), "alg": alg, "format": format, "ttl": ttl}
    if audience is not None:
        definition["audience"] = audience
    return definition


def unique_resource() -> str:
    """A resource URL no other test uses (nothing listens there; it only names an audience)."""
    return f"https://{uuid.uuid4().hex[:16]}.resource.test/mcp"


@dataclass
class OidcSettings:
    """Everything one server instance is configured with.

    resources: resource indicator (URL) -> `resource(...)`; the key "*" answers any resource
        not listed (remove it to make unknown resources fail with invalid_target).
    default_account: who signs in when the authorization request has no `login_hint`
        (None: such requests end with access_denied).
    access_token_claims: account claims copied into access tokens (e.g. ["email"]).
    ttl: oidc-provider TTLs in seconds by artifact ("AuthorizationCode", "RefreshToken", ...).
    cimd_fetch_map: URL prefix -> replacement, to serve Client ID Metadata Documents
        (whose client_id must be an https URL) from a loopback http server.
    claims: scope -> claim names, replacing the default (openid: sub hd; email; profile).
    issuer_path: the issuer's path, as Keycloak's "/realms/<name>" (the provider is mounted under it).
    rotate_refresh_tokens: every refresh answers with a new refresh token and consumes the old one (by
        default only public clients' rotate).
    """

    clients: list[dict[str, Any]] = field(default_factory=default_clients)
    accounts: dict[str, dict[str, Any]] = field(default_factory=default_accounts)
    default_account: str | None = "alice"
    resources: dict[str, dict[str, Any]] = field(default_factory=lambda: {"*": resource()})
    scopes: list[str] = field(default_factory=list)
    access_token_claims: list[str] = field(default_factory=list)
    registration: bool = True
    cimd: bool = True
    cimd_fetch_map: dict[str, str] = field(default_factory=dict)
    ttl: dict[str, int] = field(default_factory=dict)
    claims: dict[str, list[str]] | None = None
    rotate_refresh_tokens: bool = False
    issuer_path: str = ""

    def to_json(self, *, admin_token: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "admin_token": admin_token,
            "clients": self.clients,
            "accounts": self.accounts,
            "default_account": self.default_account,
            "resources": self.resources,
            "scopes": self.scopes,
            "access_token_claims": self.access_token_claims,
            "registration": self.registration,
            "cimd": self.cimd,
            "cimd_fetch_map": self.cimd_fetch_map,
            "ttl": self.ttl,
            "rotate_refresh_tokens": self.rotate_refresh_tokens,
            "issuer_path": self.issuer_path,
        }
        if self.claims is not None:
            document["claims"] = self.claims
        return document
