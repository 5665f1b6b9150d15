"""Settings, read once from the environment (prefix ``MCP_AUTH_``) and validated.

Each setting is declared once, below, as a field of ``Settings``: its environment name, type, default,
range and description (``setting.py``). ``Settings.from_env`` reads nothing else; whichever way a
``Settings`` is built, every value is checked. ``SETTINGS`` (name -> description) and
``docs/settings.md`` derive from the declarations; Terraform sets the same names (a test keeps the two
in step).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError
from mcp_auth.presets import (
    ENTRA_DISCOVERY,
    ENTRA_ISSUER,
    GOOGLE_ISSUER,
    Preset,
    build_preset,
    default_issuer,
    github_api,
)
from mcp_auth.presets import PRESETS as UPSTREAM_PRESETS
from mcp_auth.rates import DEFAULT_CREDIT, RateLimits
from mcp_auth.setting import REQUIRED, check, markdown, parse, setting, specs

if TYPE_CHECKING:
    from mcp_auth.connections.providers import ConnectionProvider

PREFIX = "MCP_AUTH_"
PROVIDERS = ("jwt", "introspection", "api_key", "oauth", "dev")
BACKCHANNELS = ("firestore", "off")
OTEL_EXPORTERS = ("none", "otlp", "gcp")

#: Read by libraries or other modules from the environment, not fields of ``Settings``; documented with them.
EXTERNAL: dict[str, str] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "Base URL of the OTLP/HTTP collector traces go to (default http://localhost:4318).",
    "OTEL_SERVICE_NAME": "service.name of exported traces (default mcp-auth-server).",
    "OTEL_TRACES_SAMPLER": "Trace sampler: parentbased_always_on (default), always_on or (parentbased_)traceidratio.",
    "OTEL_TRACES_SAMPLER_ARG": "Share of traces kept by the traceidratio samplers, 0 to 1.",
    "FIRESTORE_EMULATOR_HOST": "host:port of the Firestore emulator (development and tests only).",
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    # -- the deployment -------------------------------------------------------------------
    resource_url: str = setting(
        "MCP_AUTH_RESOURCE_URL",
        REQUIRED,
        kind="url",
        doc="Public URL of the MCP endpoint (https://host/mcp): PRM `resource` and default audience.",
    )
    factory: str = setting("MCP_AUTH_FACTORY", "factory:FACTORY", doc="The team's ToolsetFactory as module:attribute.")
    google_cloud_project: str | None = setting(
        "GOOGLE_CLOUD_PROJECT",
        None,
        doc="Google Cloud project id (any id with the emulator). Unset: the project of Application Default "
        "Credentials (a service-account key's project_id, gcloud's project, the metadata server on Cloud Run).",
    )
    on_cloud_run: bool = setting(
        "K_SERVICE", False, kind="present", doc="Set by Cloud Run; its presence forbids the development-only settings."
    )
    firestore_database: str = setting("MCP_AUTH_FIRESTORE_DATABASE", "(default)", doc="Firestore database id.")
    log_level: str = setting(
        "MCP_AUTH_LOG_LEVEL",
        "INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        doc="Log level of the JSON log lines.",
    )
    # -- authentication -------------------------------------------------------------------
    providers: tuple[str, ...] = setting(
        "MCP_AUTH_PROVIDERS",
        ("jwt",),
        doc="Comma-separated auth providers, tried in order: jwt, introspection, api_key, oauth, dev.",
    )
    jwt_issuer: str | None = setting("MCP_AUTH_JWT_ISSUER", None, doc="Required `iss` of accepted JWTs.")
    jwt_audience: str | None = setting(
        "MCP_AUTH_JWT_AUDIENCE", None, shown_default="MCP_AUTH_RESOURCE_URL", doc="Required `aud` of accepted JWTs."
    )
    jwt_hs256_key: str | None = setting(
        "MCP_AUTH_JWT_HS256_KEY",
        None,
        secret=True,
        doc="HS256 key given directly (local development only; refused on Cloud Run).",
    )
    jwt_hs_secret: str | None = setting(
        "MCP_AUTH_JWT_HS_SECRET",
        None,
        doc="Secret Manager secret holding the HS256 key; its two newest enabled versions verify.",
    )
    jwt_jwks_url: str | None = setting(
        "MCP_AUTH_JWT_JWKS_URL", None, kind="url", doc="JWKS URL of the issuer, for RS256/PS256/ES256/EdDSA tokens."
    )
    jwt_jwks_refresh_cooldown: int = setting(
        "MCP_AUTH_JWT_JWKS_REFRESH_COOLDOWN",
        30,
        low=0,
        high=3600,
        doc="Least seconds between JWKS refetches on an unknown kid.",
    )
    jwt_leeway: int = setting(
        "MCP_AUTH_JWT_LEEWAY", 30, low=0, high=60, doc="Clock skew in seconds allowed on exp/nbf/iat."
    )
    jwt_user_claim: str = setting("MCP_AUTH_JWT_USER_CLAIM", "sub", doc="Claim holding the user id.")
    introspection_url: str | None = setting(
        "MCP_AUTH_INTROSPECTION_URL", None, kind="url", doc="RFC 7662 introspection endpoint, for opaque OAuth tokens."
    )
    introspection_client_id: str | None = setting(
        "MCP_AUTH_INTROSPECTION_CLIENT_ID", None, doc="Client id this server introspects with."
    )
    introspection_secret: str | None = setting(
        "MCP_AUTH_INTROSPECTION_SECRET", None, doc="Secret Manager secret holding the introspection client secret."
    )
    api_key_pepper_secret: str | None = setting(
        "MCP_AUTH_API_KEY_PEPPER_SECRET", None, doc="Secret Manager secret holding the API-key hashing pepper."
    )
    api_key_pepper: str | None = setting(
        "MCP_AUTH_API_KEY_PEPPER",
        None,
        secret=True,
        doc="API-key pepper given directly (local development only; refused on Cloud Run).",
    )
    auth_cache_ttl: int = setting(
        "MCP_AUTH_AUTH_CACHE_TTL",
        300,
        low=1,
        high=3600,
        doc="Seconds a verified credential stays cached (never past its expiry).",
    )
    dev_user: str | None = setting(
        "MCP_AUTH_DEV_USER", None, doc="User id the development provider authenticates every request as (local only)."
    )
    # -- users ------------------------------------------------------------------------------
    first_login: str = setting(
        "MCP_AUTH_FIRST_LOGIN",
        "reject",
        choices=("reject", "create"),
        meaning="create gives an authenticated user without a record one with the defaults; reject refuses them (403).",
        doc="What to do with an authenticated user that has no record: create or reject.",
    )
    default_toolsets: tuple[str, ...] = setting(
        "MCP_AUTH_DEFAULT_TOOLSETS", (), doc="Comma-separated toolsets a record created on first login gets."
    )
    default_scopes: tuple[str, ...] = setting(
        "MCP_AUTH_DEFAULT_SCOPES", (), doc="Comma-separated scopes a record created on first login gets."
    )
    user_cache_ttl: int = setting(
        "MCP_AUTH_USER_CACHE_TTL",
        30,
        low=0,
        high=3600,
        doc="Seconds an instance trusts a cached user record before rereading it.",
    )
    server_cache_size: int = setting(
        "MCP_AUTH_SERVER_CACHE_SIZE",
        1024,
        low=1,
        high=1_000_000,
        doc="How many per-user MCP servers an instance keeps built.",
    )
    # -- discovery and the HTTP edge -----------------------------------------------------
    authorization_servers: tuple[str, ...] = setting(
        "MCP_AUTH_AUTHORIZATION_SERVERS",
        (),
        kind="urls",
        doc="Comma-separated issuer URLs advertised in protected-resource metadata.",
    )
    scopes_supported: tuple[str, ...] = setting(
        "MCP_AUTH_SCOPES_SUPPORTED", (), doc="Comma-separated scopes advertised beyond those the toolsets use."
    )
    allowed_hosts: tuple[str, ...] = setting(
        "MCP_AUTH_ALLOWED_HOSTS",
        (),
        shown_default="the resource URL's host",
        doc="Comma-separated Host values accepted.",
    )
    allowed_origins: tuple[str, ...] = setting(
        "MCP_AUTH_ALLOWED_ORIGINS", (), doc="Comma-separated browser Origins accepted (CORS is closed without them)."
    )
    trusted_proxies: tuple[str, ...] = setting(
        "MCP_AUTH_TRUSTED_PROXIES",
        (),
        doc="Comma-separated load balancer addresses whose X-Forwarded-For/-Proto are trusted.",
    )
    max_body_bytes: int = setting(
        "MCP_AUTH_MAX_BODY_BYTES",
        1_048_576,
        low=1024,
        high=32 * 1_048_576,
        doc="Largest accepted MCP request body in bytes.",
    )
    sse_keepalive: int = setting(
        "MCP_AUTH_SSE_KEEPALIVE", 15, low=1, high=60, doc="Seconds between keep-alive comments on an idle SSE stream."
    )
    tool_timeout: int = setting(
        "MCP_AUTH_TOOL_TIMEOUT",
        60,
        low=1,
        high=3600,
        doc="Seconds a tool call may run before it is cancelled and the client told why.",
    )
    backchannel: str = setting(
        "MCP_AUTH_BACKCHANNEL",
        "firestore",
        choices=BACKCHANNELS,
        meaning="firestore routes clients' replies to server requests, off refuses server requests.",
        doc="Server requests (elicit, sample, roots) to handshake-era clients: firestore or off.",
    )
    request_state_key_secret: str | None = setting(
        "MCP_AUTH_REQUEST_STATE_KEY_SECRET",
        None,
        doc="Secret Manager secret holding the key sealing input_required requestState.",
    )
    # -- downstream credentials -----------------------------------------------------------
    platform_url: str | None = setting(
        "MCP_AUTH_PLATFORM_URL",
        None,
        kind="url",
        doc="Base URL of the platform's credential API (GET /api/credentials/{user}/{provider}).",
    )
    platform_token_secret: str | None = setting(
        "MCP_AUTH_PLATFORM_TOKEN_SECRET",
        None,
        doc="Secret Manager secret holding the service token sent to the platform.",
    )
    platform_forward_user_token: bool = setting(
        "MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN", False, doc="true: also send the caller's bearer token to the platform."
    )
    webhook_secret: str | None = setting(
        "MCP_AUTH_WEBHOOK_SECRET",
        None,
        doc="Secret Manager secret holding the HMAC key of the credential-updated webhook.",
    )
    credential_cache_ttl: int = setting(
        "MCP_AUTH_CREDENTIAL_CACHE_TTL", 300, low=1, high=3600, doc="Seconds a downstream credential stays cached."
    )
    # -- connected accounts (docs/credentials.md) -----------------------------------------------
    connections: tuple[ConnectionProvider, ...] = setting(
        "MCP_AUTH_CONNECTIONS",
        (),
        kind="json",
        doc="JSON list of downstream OAuth providers users connect their accounts to (github, oauth2): name, "
        "client_id, client_secret (a Secret Manager secret name), URLs and scopes.",
    )
    connections_key_secret: str | None = setting(
        "MCP_AUTH_CONNECTIONS_KEY_SECRET",
        None,
        doc="Secret Manager secret holding the AES-256 key (32 bytes) that encrypts connected accounts' tokens; "
        "its two newest enabled versions decrypt.",
    )
    connect_link_key_secret: str | None = setting(
        "MCP_AUTH_CONNECT_LINK_KEY_SECRET",
        None,
        doc="Secret Manager secret holding the HMAC key (at least 32 bytes) that signs connect links.",
    )
    # -- secrets ------------------------------------------------------------------------------
    secret_manager_endpoint: str | None = setting(
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT",
        None,
        kind="url",
        doc="Secret Manager endpoint override for an emulator (refused on Cloud Run).",
    )
    secret_refresh_seconds: int = setting(
        "MCP_AUTH_SECRET_REFRESH_SECONDS", 300, low=1, high=86_400, doc="Seconds before a cached secret is reread."
    )
    # -- rate limits ----------------------------------------------------------------------
    rate_limit_ip: str = setting(
        "MCP_AUTH_RATE_LIMIT_IP",
        "60/minute",
        doc="Failed or unauthenticated requests per client address (N/unit, or off).",
    )
    rate_limit_user: str = setting(
        "MCP_AUTH_RATE_LIMIT_USER", "600/minute", doc="Requests per user across all instances (N/unit, or off)."
    )
    rate_limit_tool: str = setting(
        "MCP_AUTH_RATE_LIMIT_TOOL", "120/minute", doc="Calls per user per tool across all instances (N/unit, or off)."
    )
    rate_limit_lease: int = setting(
        "MCP_AUTH_RATE_LIMIT_LEASE",
        10,
        low=1,
        high=1000,
        doc="Units an instance takes per Firestore write to a shared window.",
    )
    rate_limit_credit: int = setting(
        "MCP_AUTH_RATE_LIMIT_CREDIT",
        DEFAULT_CREDIT,
        low=0,
        high=1000,
        doc="Units of a user or tool limit an instance admits per window before its first Firestore write "
        "(at most an eighth of the limit; 0 counts every unit in Firestore first). See docs/rate-limits.md.",
    )
    rate_limits: RateLimits = field(init=False, repr=False, compare=False)
    # -- the built-in authorization server --------------------------------------------------
    oauth_upstream_issuer: str = setting(
        "MCP_AUTH_OAUTH_UPSTREAM_ISSUER",
        "https://accounts.google.com",
        kind="url",
        doc="OpenID issuer users sign in with.",
    )
    oauth_upstream_client_id: str | None = setting(
        "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID",
        None,
        doc="OAuth client id of this deployment at the upstream OpenID provider.",
    )
    oauth_upstream_client_secret: str | None = setting(
        "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET",
        None,
        doc="Secret Manager secret holding that upstream client's secret.",
    )
    oauth_upstream_preset: str = setting(
        "MCP_AUTH_OAUTH_UPSTREAM_PRESET",
        "auto",
        choices=("auto", *UPSTREAM_PRESETS),
        meaning="the upstream provider's kind, which decides the claims read and the checks made "
        "(auto: google for Google's issuer, else oidc).",
        doc="Upstream provider preset: auto, google, entra, okta, auth0, keycloak, oidc or github.",
    )
    oauth_upstream_tenants: tuple[str, ...] = setting(
        "MCP_AUTH_OAUTH_UPSTREAM_TENANTS",
        (),
        doc="Comma-separated Microsoft Entra tenant ids whose users may sign in (entra preset; one: single-tenant).",
    )
    oauth_upstream_scopes: tuple[str, ...] = setting(
        "MCP_AUTH_OAUTH_UPSTREAM_SCOPES",
        (),
        doc=(
            "Comma-separated scopes asked of the upstream provider (default: the preset's). A deployment that "
            "sets it must include openid and offline_access (Google: openid; it asks offline access with "
            "access_type=offline), or refreshes cannot ask the provider again and every sign-in ends at its "
            "first refresh."
        ),
    )
    oauth_subject_claim: str | None = setting(
        "MCP_AUTH_OAUTH_SUBJECT_CLAIM", None, doc="oidc preset: the ID token claim naming the account (default sub)."
    )
    oauth_email_claim: str | None = setting(
        "MCP_AUTH_OAUTH_EMAIL_CLAIM",
        None,
        doc="oidc preset: the ID token claim holding the email (default email; it counts only with email_verified).",
    )
    oauth_groups_claim: str | None = setting(
        "MCP_AUTH_OAUTH_GROUPS_CLAIM",
        None,
        doc="The ID token claim listing the account's groups (default groups; entra: groups and roles).",
    )
    oauth_github_org: str | None = setting(
        "MCP_AUTH_OAUTH_GITHUB_ORG",
        None,
        doc="github preset: the organization whose active members may sign in (its teams become groups).",
    )
    oauth_github_teams: tuple[str, ...] = setting(
        "MCP_AUTH_OAUTH_GITHUB_TEAMS",
        (),
        doc="github preset: comma-separated team slugs of that organization; a member must be in one of them.",
    )
    oauth_github_api_url: str | None = setting(
        "MCP_AUTH_OAUTH_GITHUB_API_URL",
        None,
        kind="url",
        doc="github preset: the REST API (default https://api.github.com, or the issuer's /api/v3 for GitHub "
        "Enterprise Server).",
    )
    oauth_group_grants: dict[str, Any] | None = setting(
        "MCP_AUTH_OAUTH_GROUP_GRANTS",
        None,
        kind="json",
        doc='JSON object mapping upstream groups to what they grant: {"group": {"toolsets": [...], "scopes": [...]}}.',
    )
    oauth_signing_key_secret: str | None = setting(
        "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET",
        None,
        doc="Secret Manager secret holding the EC P-256 PEM key that signs access tokens.",
    )
    oauth_signing_key: str | None = setting(
        "MCP_AUTH_OAUTH_SIGNING_KEY",
        None,
        secret=True,
        doc="EC P-256 PEM key that signs access tokens, given directly (local development only; refused on Cloud Run).",
    )
    oauth_dev_sign_in: bool = setting(
        "MCP_AUTH_OAUTH_DEV_SIGN_IN",
        False,
        doc="true: users sign in on a local page that asks for a user id, in place of the upstream provider "
        "(local development only; refused on Cloud Run).",
    )
    oauth_allowed_domains: tuple[str, ...] = setting(
        "MCP_AUTH_OAUTH_ALLOWED_DOMAINS",
        (),
        doc="Comma-separated email domains (or Workspace hd) whose users may sign in.",
    )
    oauth_allowed_emails: tuple[str, ...] = setting(
        "MCP_AUTH_OAUTH_ALLOWED_EMAILS", (), doc="Comma-separated email addresses that may sign in."
    )
    oauth_require_user_record: bool = setting(
        "MCP_AUTH_OAUTH_REQUIRE_USER_RECORD",
        False,
        doc="true: users whose email already has a user record may sign in.",
    )
    oauth_access_token_ttl: int = setting(
        "MCP_AUTH_OAUTH_ACCESS_TOKEN_TTL", 600, low=60, high=3600, doc="Seconds an issued access token lives."
    )
    oauth_refresh_token_ttl: int = setting(
        "MCP_AUTH_OAUTH_REFRESH_TOKEN_TTL",
        2_592_000,
        low=3600,
        high=7_776_000,
        doc="Seconds an issued refresh token lives.",
    )
    oauth_registration_rate: int = setting(
        "MCP_AUTH_OAUTH_REGISTRATION_RATE",
        10,
        low=1,
        high=1000,
        doc="Client registrations accepted per address and minute.",
    )
    oauth_authorize_rate: int = setting(
        "MCP_AUTH_OAUTH_AUTHORIZE_RATE",
        60,
        low=1,
        high=10_000,
        doc="Authorization requests accepted per address and minute.",
    )
    oauth_token_rate: int = setting(
        "MCP_AUTH_OAUTH_TOKEN_RATE", 120, low=1, high=10_000, doc="Token requests accepted per address and minute."
    )
    oauth_allow_loopback: bool = setting(
        "MCP_AUTH_OAUTH_ALLOW_LOOPBACK",
        False,
        doc="true: allow http loopback upstream and client documents (tests only).",
    )
    # -- observability ----------------------------------------------------------------------
    audit_firestore: bool = setting(
        "MCP_AUTH_AUDIT_FIRESTORE", False, doc="true: also write each audit record to the Firestore `audit` collection."
    )
    audit_retention_days: int = setting(
        "MCP_AUTH_AUDIT_RETENTION_DAYS",
        30,
        low=1,
        high=3650,
        doc="Days an audit document is kept before TTL deletes it.",
    )
    otel_exporter: str = setting(
        "MCP_AUTH_OTEL_EXPORTER",
        "none",
        choices=OTEL_EXPORTERS,
        meaning="otlp exports traces over OTLP/HTTP to a collector, gcp straight to Cloud Trace, none turns "
        "tracing off.",
        doc="OpenTelemetry traces: none, otlp (OTLP/HTTP to a collector, needs the otel extra) or gcp (Cloud Trace "
        "in the project, needs the gcp-trace extra and roles/cloudtrace.agent).",
    )
    cloud_trace_endpoint: str | None = setting(
        "MCP_AUTH_CLOUD_TRACE_ENDPOINT",
        None,
        doc="host:port of a plaintext gRPC stand-in for the Cloud Trace API (tests only; refused on Cloud Run).",
    )

    def __post_init__(self) -> None:
        from mcp_auth.proxies import parse_networks

        for f, spec in specs(type(self)):
            check(spec, getattr(self, f.name))
        if not self.resource_url:
            raise ConfigError("MCP_AUTH_RESOURCE_URL is required: the public URL of the MCP endpoint.")
        if self.jwt_audience is None:
            object.__setattr__(self, "jwt_audience", self.resource_url)  # the audience is bound to this resource
        object.__setattr__(
            self,
            "rate_limits",
            RateLimits.from_strings(
                ip=self.rate_limit_ip,
                user=self.rate_limit_user,
                tool=self.rate_limit_tool,
                lease=str(self.rate_limit_lease),
                credit=str(self.rate_limit_credit),
            ),
        )
        parse_networks(self.trusted_proxies)
        if self.connections in (None, "", (), []):  # the usual case: the providers' module is not even imported
            object.__setattr__(self, "connections", ())
        else:
            from mcp_auth.connections.providers import connection_providers

            providers = connection_providers(self.connections, on_cloud_run=self.on_cloud_run)
            object.__setattr__(self, "connections", providers)
        self._check_connections()
        if not self.providers:
            raise ConfigError("MCP_AUTH_PROVIDERS is empty: name at least one provider (jwt or dev).")
        for name in self.providers:
            if name not in PROVIDERS:
                raise ConfigError(
                    f"MCP_AUTH_PROVIDERS names an unknown provider {name!r}; known: {', '.join(PROVIDERS)}."
                )
        if "jwt" in self.providers:
            if not self.jwt_issuer:
                raise ConfigError("MCP_AUTH_JWT_ISSUER is required when the jwt provider is enabled.")
            if not self.jwt_audience:
                raise ConfigError(
                    "MCP_AUTH_JWT_AUDIENCE (or MCP_AUTH_RESOURCE_URL) is required when the jwt provider is enabled."
                )
            if not (self.jwt_hs256_key or self.jwt_hs_secret or self.jwt_jwks_url):
                raise ConfigError(
                    "The jwt provider needs a key source: MCP_AUTH_JWT_JWKS_URL, MCP_AUTH_JWT_HS_SECRET "
                    "or (local development) MCP_AUTH_JWT_HS256_KEY."
                )
            if self.jwt_hs256_key and len(self.jwt_hs256_key.encode()) < 32:
                raise ConfigError("MCP_AUTH_JWT_HS256_KEY must be at least 32 bytes long.")
            if self.jwt_hs256_key and self.jwt_hs_secret:
                raise ConfigError("Set MCP_AUTH_JWT_HS_SECRET or MCP_AUTH_JWT_HS256_KEY, not both.")
        if "introspection" in self.providers:
            missing = [
                name
                for name, value in (
                    ("MCP_AUTH_INTROSPECTION_URL", self.introspection_url),
                    ("MCP_AUTH_INTROSPECTION_CLIENT_ID", self.introspection_client_id),
                    ("MCP_AUTH_INTROSPECTION_SECRET", self.introspection_secret),
                )
                if not value
            ]
            if missing:
                raise ConfigError(f"The introspection provider needs {', '.join(missing)}.")
            if not self.jwt_audience:
                raise ConfigError("The introspection provider needs MCP_AUTH_RESOURCE_URL (the expected audience).")
        if "api_key" in self.providers:
            if not (self.api_key_pepper_secret or self.api_key_pepper):
                raise ConfigError(
                    "The api_key provider needs MCP_AUTH_API_KEY_PEPPER_SECRET "
                    "(or, for local development, MCP_AUTH_API_KEY_PEPPER)."
                )
            if self.api_key_pepper and len(self.api_key_pepper.encode()) < 32:
                raise ConfigError("MCP_AUTH_API_KEY_PEPPER must be at least 32 bytes long.")
        if "dev" in self.providers and not self.dev_user:
            raise ConfigError("MCP_AUTH_DEV_USER is required when the dev provider is enabled.")
        if "oauth" in self.providers:
            self._check_oauth()
        if self.platform_url and not self.platform_token_secret:
            raise ConfigError(
                "MCP_AUTH_PLATFORM_URL is set but MCP_AUTH_PLATFORM_TOKEN_SECRET is not: name the Secret Manager "
                "secret holding the platform service token."
            )
        if (self.platform_token_secret or self.webhook_secret or self.platform_forward_user_token) and (
            not self.platform_url
        ):
            raise ConfigError(
                "MCP_AUTH_PLATFORM_TOKEN_SECRET, MCP_AUTH_WEBHOOK_SECRET and MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN "
                "need MCP_AUTH_PLATFORM_URL (the platform's credential API)."
            )
        if self.on_cloud_run:
            if self.platform_url and not self.platform_url.startswith("https://"):
                raise ConfigError("MCP_AUTH_PLATFORM_URL must be https:// on Cloud Run.")
            if "dev" in self.providers:
                raise ConfigError(
                    "The dev provider is for local development only and refuses to start on Cloud Run "
                    "(K_SERVICE is set): remove 'dev' from MCP_AUTH_PROVIDERS."
                )
            if self.oauth_dev_sign_in:
                raise ConfigError(
                    "MCP_AUTH_OAUTH_DEV_SIGN_IN is for local development only and refuses to start on Cloud Run "
                    "(K_SERVICE is set): sign users in through MCP_AUTH_OAUTH_UPSTREAM_ISSUER."
                )
            for name, value in (
                ("MCP_AUTH_JWT_HS256_KEY", self.jwt_hs256_key),
                ("MCP_AUTH_API_KEY_PEPPER", self.api_key_pepper),
                ("MCP_AUTH_OAUTH_SIGNING_KEY", self.oauth_signing_key),
                ("MCP_AUTH_SECRET_MANAGER_ENDPOINT", self.secret_manager_endpoint),
            ):
                if value:
                    raise ConfigError(
                        f"{name} is for local development only and refuses to start on Cloud Run "
                        "(K_SERVICE is set): keep secrets in Secret Manager."
                    )
            if self.cloud_trace_endpoint:
                raise ConfigError(
                    "MCP_AUTH_CLOUD_TRACE_ENDPOINT is for tests only and refuses to start on Cloud Run "
                    "(K_SERVICE is set): unset it, and MCP_AUTH_OTEL_EXPORTER=gcp writes to Cloud Trace itself."
                )
            if not self.resource_url.startswith("https://"):
                raise ConfigError("MCP_AUTH_RESOURCE_URL must be https:// on Cloud Run.")

    def _check_oauth(self) -> None:
        if "jwt" in self.providers and self.providers.index("jwt") < self.providers.index("oauth"):
            raise ConfigError(
                "MCP_AUTH_PROVIDERS names jwt before oauth: the jwt provider would take the authorization "
                "server's tokens; name oauth first (oauth,jwt)."
            )
        if self.oauth_signing_key and self.oauth_signing_key_secret:
            raise ConfigError("Set MCP_AUTH_OAUTH_SIGNING_KEY_SECRET or MCP_AUTH_OAUTH_SIGNING_KEY, not both.")
        # the signing key may be given directly for local development (refused on Cloud Run, below)
        needed = [("MCP_AUTH_OAUTH_SIGNING_KEY_SECRET", self.oauth_signing_key_secret or self.oauth_signing_key)]
        if not self.oauth_dev_sign_in:  # the local page stands in for the upstream provider and its sign-in rules
            needed += [
                ("MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID", self.oauth_upstream_client_id),
                ("MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET", self.oauth_upstream_client_secret),
            ]
        missing = [name for name, value in needed if not value]
        if missing:
            raise ConfigError(f"The oauth provider (built-in authorization server) needs {', '.join(missing)}.")
        if self.oauth_dev_sign_in:
            return
        preset = self.upstream_preset()
        if preset.name == "entra" and (self.oauth_allowed_domains or self.oauth_allowed_emails):
            raise ConfigError(
                "Microsoft Entra ID verifies no email address: remove MCP_AUTH_OAUTH_ALLOWED_DOMAINS and "
                "MCP_AUTH_OAUTH_ALLOWED_EMAILS, and admit users by tenant (MCP_AUTH_OAUTH_UPSTREAM_TENANTS)."
            )
        if not (
            self.oauth_allowed_domains
            or self.oauth_allowed_emails
            or self.oauth_require_user_record
            or preset.tenants
            or preset.organization
        ):
            raise ConfigError(
                "The oauth provider needs a sign-in rule: MCP_AUTH_OAUTH_ALLOWED_DOMAINS, "
                "MCP_AUTH_OAUTH_ALLOWED_EMAILS or MCP_AUTH_OAUTH_REQUIRE_USER_RECORD=true"
                + (" (or, with the github preset, MCP_AUTH_OAUTH_GITHUB_ORG)." if preset.name == "github" else ".")
            )
        if self.on_cloud_run and self.oauth_allow_loopback:
            raise ConfigError("MCP_AUTH_OAUTH_ALLOW_LOOPBACK is for tests only and refuses to start on Cloud Run.")
        self._check_upstream_issuer(preset)
        from mcp_auth.grants import configured_mapping  # here: only the oauth provider grants by group

        configured_mapping(self.oauth_group_grants)

    def upstream_preset(self) -> Preset:
        """The upstream provider preset these settings choose (``oauth/presets.py``)."""
        name = self.oauth_upstream_preset
        if name == "auto":
            name = "google" if self.oauth_upstream_issuer.rstrip("/") == GOOGLE_ISSUER else "oidc"
        try:
            return build_preset(
                name,
                tenants=tuple(t.lower() for t in self.oauth_upstream_tenants),
                scopes=self.oauth_upstream_scopes,
                subject_claim=self.oauth_subject_claim,
                email_claim=self.oauth_email_claim,
                groups_claim=self.oauth_groups_claim,
                organization=self.oauth_github_org,
                teams=tuple(t.lower() for t in self.oauth_github_teams),
            )
        except ValueError as exc:
            raise ConfigError(f"MCP_AUTH_OAUTH_UPSTREAM_PRESET={name}: {exc}") from None

    def _check_upstream_issuer(self, preset: Preset) -> None:
        issuer = self.oauth_upstream_issuer.rstrip("/")
        if preset.name in ("entra", "github") and issuer == GOOGLE_ISSUER:  # left at the default: the preset's
            issuer = default_issuer(preset) or issuer
            object.__setattr__(self, "oauth_upstream_issuer", issuer)
        if not issuer.startswith("https://") and not self.oauth_allow_loopback:
            raise ConfigError("MCP_AUTH_OAUTH_UPSTREAM_ISSUER must be an https URL.")
        api = self.github_api_url()
        if preset.name == "github" and not api.startswith("https://") and not self.oauth_allow_loopback:
            raise ConfigError("MCP_AUTH_OAUTH_GITHUB_API_URL must be an https URL.")
        if preset.name != "github" and self.oauth_github_api_url:
            raise ConfigError("MCP_AUTH_OAUTH_GITHUB_API_URL is for the github preset only.")
        if self.oauth_allow_loopback and not issuer.startswith("https://"):
            return  # a loopback stand-in plays the provider (tests)
        shape = {
            "google": (issuer == GOOGLE_ISSUER, GOOGLE_ISSUER),
            "entra": (
                issuer in {ENTRA_ISSUER.format(tenant=t) for t in preset.tenants} | {ENTRA_DISCOVERY},
                f"{ENTRA_ISSUER.format(tenant='<tenant id>')} (one tenant) or {ENTRA_DISCOVERY} (several)",
            ),
            "keycloak": ("/realms/" in urlsplit(issuer).path, "https://<host>/realms/<realm>"),
        }.get(preset.name)
        if shape is not None and not shape[0]:
            raise ConfigError(f"MCP_AUTH_OAUTH_UPSTREAM_ISSUER for the {preset.name} preset is {shape[1]}.")
        if preset.name in ("okta", "auth0", "keycloak", "oidc") and issuer == GOOGLE_ISSUER:
            raise ConfigError(
                f"The {preset.name} preset needs MCP_AUTH_OAUTH_UPSTREAM_ISSUER: your provider's issuer URL "
                "(its /.well-known/openid-configuration names it)."
            )

    def github_api_url(self) -> str:
        """GitHub's REST API for the github preset: the setting, else the one beside the issuer."""
        return (self.oauth_github_api_url or github_api(self.oauth_upstream_issuer)).rstrip("/")

    def _check_connections(self) -> None:
        keys = [
            name
            for name, value in (
                ("MCP_AUTH_CONNECTIONS_KEY_SECRET", self.connections_key_secret),
                ("MCP_AUTH_CONNECT_LINK_KEY_SECRET", self.connect_link_key_secret),
            )
            if not value
        ]
        if self.connections and keys:
            raise ConfigError(f"MCP_AUTH_CONNECTIONS needs {', '.join(keys)} (the token vault's and links' keys).")
        if not self.connections and len(keys) < 2:
            raise ConfigError(
                "MCP_AUTH_CONNECTIONS_KEY_SECRET and MCP_AUTH_CONNECT_LINK_KEY_SECRET need MCP_AUTH_CONNECTIONS "
                "(the providers users connect)."
            )

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Every Secret Manager secret these settings need; all must exist at start-up."""
        names = (
            self.jwt_hs_secret,
            self.introspection_secret,
            self.api_key_pepper_secret,
            self.platform_token_secret,
            self.webhook_secret,
            self.oauth_upstream_client_secret if "oauth" in self.providers and not self.oauth_dev_sign_in else None,
            self.oauth_signing_key_secret if "oauth" in self.providers else None,
            self.connections_key_secret,
            self.connect_link_key_secret,
            *(p.client_secret for p in self.connections),
        )
        return tuple(n for n in names if n)

    @property
    def project(self) -> str | None:
        """``GOOGLE_CLOUD_PROJECT``, else the project of Application Default Credentials, found on first use."""
        return self.google_cloud_project or default_project()

    @property
    def resource_host(self) -> str:
        return urlsplit(self.resource_url).netloc

    @property
    def metadata_url(self) -> str:
        """RFC 9728 §3.1: the well-known path inserted before the resource's path."""
        parts = urlsplit(self.resource_url)
        path = parts.path if parts.path not in ("", "/") else ""
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every declared setting read from ``env`` (the process environment by default); an unset or empty
        variable takes the declared default."""
        env = os.environ if env is None else env
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in SETTINGS)
        if unknown:
            raise ConfigError(f"Unknown setting(s) {', '.join(unknown)}: check the spelling (see docs/settings.md).")
        values: dict[str, Any] = {}
        for f, spec in specs(cls):
            raw = env.get(spec.env)
            if raw:
                values[f.name] = parse(spec, raw)
        if "resource_url" not in values:
            raise ConfigError("MCP_AUTH_RESOURCE_URL is required: the public URL of the MCP endpoint.")
        return cls(**values)


@functools.cache
def default_project() -> str | None:
    """The project of Application Default Credentials (``google.auth.default()``), or None.

    Read on first use, never at import or when settings are built: on Cloud Run it asks the
    metadata server, which ``GOOGLE_CLOUD_PROJECT`` (not set there by Cloud Run) would spare.
    """
    try:
        import google.auth
        from google.auth.exceptions import GoogleAuthError
    except ImportError:  # pragma: no cover - google-auth comes with the Google Cloud clients
        return None
    try:
        _, project = google.auth.default()
    except (GoogleAuthError, OSError, ValueError):
        return None
    return project or None


#: Every environment variable the framework reads, with what it is for.
SETTINGS: dict[str, str] = {**{spec.env: spec.doc for _, spec in specs(Settings)}, **EXTERNAL}


def settings_markdown() -> str:
    """``docs/settings.md``."""
    return markdown(Settings, EXTERNAL)
