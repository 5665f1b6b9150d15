"""Settings, read once from the environment (prefix ``MCP_AUTH_``) and validated.

Every setting the framework reads is declared in ``SETTINGS`` with a one-line
description; ``Settings.from_env`` reads nothing else. Terraform sets the same
names (a test keeps the two in step).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError
from mcp_auth.rates import RateLimits

PREFIX = "MCP_AUTH_"

#: Every environment variable the framework reads, with what it is for.
SETTINGS: dict[str, str] = {
    "MCP_AUTH_RESOURCE_URL": "Public URL of the MCP endpoint (https://host/mcp): PRM `resource` and default audience.",
    "MCP_AUTH_FACTORY": "The team's ToolsetFactory as module:attribute (default factory:FACTORY).",
    "MCP_AUTH_PROVIDERS": "Comma-separated auth providers, tried in order: jwt, introspection, api_key, oauth, dev.",
    "MCP_AUTH_JWT_ISSUER": "Required `iss` of accepted JWTs.",
    "MCP_AUTH_JWT_AUDIENCE": "Required `aud` of accepted JWTs (default: MCP_AUTH_RESOURCE_URL).",
    "MCP_AUTH_JWT_HS256_KEY": "HS256 key given directly (local development only; refused on Cloud Run).",
    "MCP_AUTH_JWT_HS_SECRET": "Secret Manager secret holding the HS256 key; its two newest enabled versions verify.",
    "MCP_AUTH_JWT_JWKS_URL": "JWKS URL of the issuer, for RS256/PS256/ES256/EdDSA tokens.",
    "MCP_AUTH_JWT_JWKS_REFRESH_COOLDOWN": "Least seconds between JWKS refetches on an unknown kid (default 30).",
    "MCP_AUTH_JWT_LEEWAY": "Clock skew in seconds allowed on exp/nbf/iat (0-60, default 30).",
    "MCP_AUTH_JWT_USER_CLAIM": "Claim holding the user id (default sub).",
    "MCP_AUTH_INTROSPECTION_URL": "RFC 7662 introspection endpoint, for opaque OAuth tokens.",
    "MCP_AUTH_INTROSPECTION_CLIENT_ID": "Client id this server introspects with.",
    "MCP_AUTH_INTROSPECTION_SECRET": "Secret Manager secret holding the introspection client secret.",
    "MCP_AUTH_API_KEY_PEPPER_SECRET": "Secret Manager secret holding the API-key hashing pepper.",
    "MCP_AUTH_API_KEY_PEPPER": "API-key pepper given directly (local development only; refused on Cloud Run).",
    "MCP_AUTH_AUTH_CACHE_TTL": "Seconds a verified credential stays cached (1-3600, default 300; never past exp).",
    "MCP_AUTH_SECRET_REFRESH_SECONDS": "Seconds before a cached secret is reread (1-86400, default 300).",
    "MCP_AUTH_SECRET_MANAGER_ENDPOINT": "Secret Manager endpoint override for an emulator (refused on Cloud Run).",
    "MCP_AUTH_PLATFORM_URL": "Base URL of the platform's credential API (GET /api/credentials/{user}/{provider}).",
    "MCP_AUTH_PLATFORM_TOKEN_SECRET": "Secret Manager secret holding the service token sent to the platform.",
    "MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN": "true: also send the caller's bearer token to the platform.",
    "MCP_AUTH_REQUEST_STATE_KEY_SECRET": "Secret Manager secret holding the key sealing input_required requestState.",
    "MCP_AUTH_WEBHOOK_SECRET": "Secret Manager secret holding the HMAC key of the credential-updated webhook.",
    "MCP_AUTH_CREDENTIAL_CACHE_TTL": "Seconds a downstream credential stays cached (1-3600, default 300).",
    "MCP_AUTH_DEV_USER": "User id the development provider authenticates every request as (local only).",
    "MCP_AUTH_FIRST_LOGIN": "What to do with an authenticated user that has no record: create or reject.",
    "MCP_AUTH_DEFAULT_TOOLSETS": "Comma-separated toolsets a record created on first login gets.",
    "MCP_AUTH_DEFAULT_SCOPES": "Comma-separated scopes a record created on first login gets.",
    "MCP_AUTH_AUTHORIZATION_SERVERS": "Comma-separated issuer URLs advertised in protected-resource metadata.",
    "MCP_AUTH_SCOPES_SUPPORTED": "Comma-separated scopes advertised beyond those the toolsets use (default: none).",
    "MCP_AUTH_ALLOWED_HOSTS": "Comma-separated Host values accepted (default: the resource URL's host).",
    "MCP_AUTH_ALLOWED_ORIGINS": "Comma-separated browser Origins accepted (default: none).",
    "MCP_AUTH_TRUSTED_PROXIES": "Comma-separated load balancer addresses whose X-Forwarded-For/-Proto are trusted.",
    "MCP_AUTH_MAX_BODY_BYTES": "Largest accepted request body in bytes.",
    "MCP_AUTH_SERVER_CACHE_SIZE": "How many per-user MCP servers an instance keeps built.",
    "MCP_AUTH_USER_CACHE_TTL": "Seconds an instance trusts a cached user record before rereading it.",
    "MCP_AUTH_FIRESTORE_DATABASE": "Firestore database id (default: (default)).",
    "MCP_AUTH_TOOL_TIMEOUT": "Seconds a tool call may run before it is cancelled and the client told why (default 60).",
    "MCP_AUTH_SSE_KEEPALIVE": "Seconds between keep-alive comments on an idle SSE stream (default 15; 1-60).",
    "MCP_AUTH_BACKCHANNEL":
        "Server requests (elicit, sample, roots) to handshake-era clients: firestore (default) or off.",
    "MCP_AUTH_RATE_LIMIT_IP": "Failed or unauthenticated requests per client address, e.g. 60/minute, or off.",
    "MCP_AUTH_RATE_LIMIT_USER": "Requests per user across all instances, e.g. 600/minute, or off.",
    "MCP_AUTH_RATE_LIMIT_TOOL": "Calls per user per tool across all instances, e.g. 120/minute, or off.",
    "MCP_AUTH_RATE_LIMIT_LEASE": "Units an instance takes per Firestore write to a shared window (default 10).",
    "MCP_AUTH_LOG_LEVEL": "Log level: DEBUG, INFO, WARNING or ERROR.",
    "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "OpenID issuer users sign in with (default https://accounts.google.com).",
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": "OAuth client id of this deployment at the upstream OpenID provider.",
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": "Secret Manager secret holding that upstream client's secret.",
    "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": "Secret Manager secret holding the EC P-256 PEM key that signs access tokens.",
    "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "Comma-separated email domains (or Workspace hd) whose users may sign in.",
    "MCP_AUTH_OAUTH_ALLOWED_EMAILS": "Comma-separated email addresses that may sign in.",
    "MCP_AUTH_OAUTH_REQUIRE_USER_RECORD": "true: users whose email already has a user record may sign in.",
    "MCP_AUTH_OAUTH_ACCESS_TOKEN_TTL": "Seconds an issued access token lives (60-3600, default 600).",
    "MCP_AUTH_OAUTH_REFRESH_TOKEN_TTL": "Seconds an issued refresh token lives (3600-7776000, default 2592000).",
    "MCP_AUTH_OAUTH_REGISTRATION_RATE": "Client registrations accepted per address and minute (1-1000, default 10).",
    "MCP_AUTH_OAUTH_AUTHORIZE_RATE": "Authorization requests accepted per address and minute (1-10000, default 60).",
    "MCP_AUTH_OAUTH_TOKEN_RATE": "Token requests accepted per address and minute (1-10000, default 120).",
    "MCP_AUTH_OAUTH_ALLOW_LOOPBACK": "true: allow http loopback upstream and client documents (tests only).",
    "MCP_AUTH_AUDIT_FIRESTORE": "true: also write each audit record to the Firestore `audit` collection.",
    "MCP_AUTH_AUDIT_RETENTION_DAYS": "Days an audit document is kept before TTL deletes it (1-3650, default 30).",
    "MCP_AUTH_OTEL_EXPORTER": "OpenTelemetry traces: none (default) or otlp (OTLP/HTTP export, needs the otel extra).",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "Base URL of the OTLP/HTTP collector traces go to (default http://localhost:4318).",
    "OTEL_SERVICE_NAME": "service.name of exported traces (default mcp-auth-server).",
    "OTEL_TRACES_SAMPLER": "Trace sampler: parentbased_always_on (default), always_on or (parentbased_)traceidratio.",
    "OTEL_TRACES_SAMPLER_ARG": "Share of traces kept by the traceidratio samplers, 0 to 1.",
    "GOOGLE_CLOUD_PROJECT": "Google Cloud project id (set by Cloud Run; any id with the emulator).",
    "K_SERVICE": "Set by Cloud Run; its presence forbids the development-only settings.",
    "FIRESTORE_EMULATOR_HOST": "host:port of the Firestore emulator (development and tests only).",
}

_PROVIDERS = ("jwt", "introspection", "api_key", "oauth", "dev")
_FIRST_LOGIN = ("create", "reject")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}.")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}.")


BACKCHANNELS = ("firestore", "off")
OTEL_EXPORTERS = ("none", "otlp")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], meaning: str) -> str:
    """One of ``choices`` (the first is the default), case-insensitive."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw[:40]!r}: {meaning}")
    return raw


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    return _url(name, raw) if raw else None


def _url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{name} must be an absolute http(s) URL, got {raw!r}.")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name} must not have a query or fragment, got {raw!r}.")
    return raw.rstrip("/") if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, kw_only=True)
class Settings:
    resource_url: str
    factory: str = "factory:FACTORY"
    providers: tuple[str, ...] = ("jwt",)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_hs256_key: str | None = field(default=None, repr=False)
    jwt_hs_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_refresh_cooldown: int = 30
    jwt_leeway: int = 30
    jwt_user_claim: str = "sub"
    introspection_url: str | None = None
    introspection_client_id: str | None = None
    introspection_secret: str | None = None
    api_key_pepper_secret: str | None = None
    api_key_pepper: str | None = field(default=None, repr=False)
    auth_cache_ttl: int = 300
    secret_manager_endpoint: str | None = None
    secret_refresh_seconds: int = 300
    platform_url: str | None = None
    platform_token_secret: str | None = None
    platform_forward_user_token: bool = False
    webhook_secret: str | None = None
    credential_cache_ttl: int = 300
    dev_user: str | None = None
    first_login: str = "reject"
    default_toolsets: tuple[str, ...] = ()
    default_scopes: tuple[str, ...] = ()
    authorization_servers: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    sse_keepalive: int = 15
    backchannel: str = "firestore"
    request_state_key_secret: str | None = None  # kept as given: request_state.py validates it
    audit_firestore: bool = False
    audit_retention_days: int = 30
    otel_exporter: str = "none"
    server_cache_size: int = 1024
    user_cache_ttl: int = 30
    firestore_database: str = "(default)"
    tool_timeout: int = 60
    rate_limits: RateLimits = field(default_factory=RateLimits.from_strings)
    log_level: str = "INFO"
    oauth_upstream_issuer: str = "https://accounts.google.com"
    oauth_upstream_client_id: str | None = None
    oauth_upstream_client_secret: str | None = None
    oauth_signing_key_secret: str | None = None
    oauth_allowed_domains: tuple[str, ...] = ()
    oauth_allowed_emails: tuple[str, ...] = ()
    oauth_require_user_record: bool = False
    oauth_access_token_ttl: int = 600
    oauth_refresh_token_ttl: int = 2_592_000
    oauth_registration_rate: int = 10
    oauth_authorize_rate: int = 60
    oauth_token_rate: int = 120
    oauth_allow_loopback: bool = False
    project: str | None = None
    on_cloud_run: bool = False

    def __post_init__(self) -> None:
        from mcp_auth.proxies import parse_networks

        parse_networks(self.trusted_proxies)
        if not self.providers:
            raise ConfigError("MCP_AUTH_PROVIDERS is empty: name at least one provider (jwt or dev).")
        for name in self.providers:
            if name not in _PROVIDERS:
                raise ConfigError(
                    f"MCP_AUTH_PROVIDERS names an unknown provider {name!r}; known: {', '.join(_PROVIDERS)}."
                )
        if self.first_login not in _FIRST_LOGIN:
            raise ConfigError(f"MCP_AUTH_FIRST_LOGIN must be 'create' or 'reject', got {self.first_login!r}.")
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(f"MCP_AUTH_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {self.log_level!r}.")
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
            for name, value in (
                ("MCP_AUTH_JWT_HS256_KEY", self.jwt_hs256_key),
                ("MCP_AUTH_API_KEY_PEPPER", self.api_key_pepper),
                ("MCP_AUTH_SECRET_MANAGER_ENDPOINT", self.secret_manager_endpoint),
            ):
                if value:
                    raise ConfigError(
                        f"{name} is for local development only and refuses to start on Cloud Run "
                        "(K_SERVICE is set): keep secrets in Secret Manager."
                    )
            if not self.resource_url.startswith("https://"):
                raise ConfigError("MCP_AUTH_RESOURCE_URL must be https:// on Cloud Run.")

    def _check_oauth(self) -> None:
        missing = [name for name, value in (
            ("MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID", self.oauth_upstream_client_id),
            ("MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET", self.oauth_upstream_client_secret),
            ("MCP_AUTH_OAUTH_SIGNING_KEY_SECRET", self.oauth_signing_key_secret),
        ) if not value]
        if missing:
            raise ConfigError(f"The oauth provider (built-in authorization server) needs {', '.join(missing)}.")
        if not (self.oauth_allowed_domains or self.oauth_allowed_emails or self.oauth_require_user_record):
            raise ConfigError(
                "The oauth provider needs a sign-in rule: MCP_AUTH_OAUTH_ALLOWED_DOMAINS, "
                "MCP_AUTH_OAUTH_ALLOWED_EMAILS or MCP_AUTH_OAUTH_REQUIRE_USER_RECORD=true."
            )
        if self.on_cloud_run and self.oauth_allow_loopback:
            raise ConfigError("MCP_AUTH_OAUTH_ALLOW_LOOPBACK is for tests only and refuses to start on Cloud Run.")
        if not self.oauth_upstream_issuer.startswith("https://") and not self.oauth_allow_loopback:
            raise ConfigError("MCP_AUTH_OAUTH_UPSTREAM_ISSUER must be an https URL.")

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Every Secret Manager secret these settings need; all must exist at start-up."""
        names = (
            self.jwt_hs_secret,
            self.introspection_secret,
            self.api_key_pepper_secret,
            self.platform_token_secret,
            self.webhook_secret,
            self.oauth_upstream_client_secret if "oauth" in self.providers else None,
            self.oauth_signing_key_secret if "oauth" in self.providers else None,
        )
        return tuple(n for n in names if n)

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
        env = os.environ if env is None else env
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in SETTINGS)
        if unknown:
            raise ConfigError(f"Unknown setting(s) {', '.join(unknown)}: check the spelling (see README, Settings).")
        raw_resource = env.get("MCP_AUTH_RESOURCE_URL")
        if not raw_resource:
            raise ConfigError("MCP_AUTH_RESOURCE_URL is required: the public URL of the MCP endpoint.")
        resource_url = _url("MCP_AUTH_RESOURCE_URL", raw_resource)
        return cls(
            resource_url=resource_url,
            factory=env.get("MCP_AUTH_FACTORY") or "factory:FACTORY",
            providers=_list(env.get("MCP_AUTH_PROVIDERS", "jwt")),
            jwt_issuer=env.get("MCP_AUTH_JWT_ISSUER") or None,
            jwt_audience=env.get("MCP_AUTH_JWT_AUDIENCE") or resource_url,
            jwt_hs256_key=env.get("MCP_AUTH_JWT_HS256_KEY") or None,
            jwt_hs_secret=env.get("MCP_AUTH_JWT_HS_SECRET") or None,
            jwt_jwks_url=_optional_url(env, "MCP_AUTH_JWT_JWKS_URL"),
            jwt_jwks_refresh_cooldown=_int(env, "MCP_AUTH_JWT_JWKS_REFRESH_COOLDOWN", 30, low=0, high=3600),
            jwt_leeway=_int(env, "MCP_AUTH_JWT_LEEWAY", 30, low=0, high=60),
            jwt_user_claim=env.get("MCP_AUTH_JWT_USER_CLAIM") or "sub",
            introspection_url=_optional_url(env, "MCP_AUTH_INTROSPECTION_URL"),
            introspection_client_id=env.get("MCP_AUTH_INTROSPECTION_CLIENT_ID") or None,
            introspection_secret=env.get("MCP_AUTH_INTROSPECTION_SECRET") or None,
            api_key_pepper_secret=env.get("MCP_AUTH_API_KEY_PEPPER_SECRET") or None,
            api_key_pepper=env.get("MCP_AUTH_API_KEY_PEPPER") or None,
            auth_cache_ttl=_int(env, "MCP_AUTH_AUTH_CACHE_TTL", 300, low=1, high=3600),
            secret_manager_endpoint=_optional_url(env, "MCP_AUTH_SECRET_MANAGER_ENDPOINT"),
            secret_refresh_seconds=_int(env, "MCP_AUTH_SECRET_REFRESH_SECONDS", 300, low=1, high=86_400),
            platform_url=_optional_url(env, "MCP_AUTH_PLATFORM_URL"),
            platform_token_secret=env.get("MCP_AUTH_PLATFORM_TOKEN_SECRET") or None,
            platform_forward_user_token=_bool(env, "MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN"),
            webhook_secret=env.get("MCP_AUTH_WEBHOOK_SECRET") or None,
            credential_cache_ttl=_int(env, "MCP_AUTH_CREDENTIAL_CACHE_TTL", 300, low=1, high=3600),
            dev_user=env.get("MCP_AUTH_DEV_USER") or None,
            first_login=env.get("MCP_AUTH_FIRST_LOGIN", "reject"),
            default_toolsets=_list(env.get("MCP_AUTH_DEFAULT_TOOLSETS")),
            default_scopes=_list(env.get("MCP_AUTH_DEFAULT_SCOPES")),
            authorization_servers=tuple(
                _url("MCP_AUTH_AUTHORIZATION_SERVERS", u) for u in _list(env.get("MCP_AUTH_AUTHORIZATION_SERVERS"))
            ),
            scopes_supported=_list(env.get("MCP_AUTH_SCOPES_SUPPORTED")),
            allowed_hosts=_list(env.get("MCP_AUTH_ALLOWED_HOSTS")),
            allowed_origins=_list(env.get("MCP_AUTH_ALLOWED_ORIGINS")),
            trusted_proxies=_list(env.get("MCP_AUTH_TRUSTED_PROXIES")),
            max_body_bytes=_int(env, "MCP_AUTH_MAX_BODY_BYTES", 1_048_576, low=1024, high=32 * 1_048_576),
            sse_keepalive=_int(env, "MCP_AUTH_SSE_KEEPALIVE", 15, low=1, high=60),
            backchannel=_choice(env, "MCP_AUTH_BACKCHANNEL", BACKCHANNELS,
                                "firestore routes clients' replies to server requests, off refuses server requests."),
            request_state_key_secret=env.get("MCP_AUTH_REQUEST_STATE_KEY_SECRET") or None,
            audit_firestore=_bool(env, "MCP_AUTH_AUDIT_FIRESTORE"),
            audit_retention_days=_int(env, "MCP_AUTH_AUDIT_RETENTION_DAYS", 30, low=1, high=3650),
            otel_exporter=_choice(env, "MCP_AUTH_OTEL_EXPORTER", OTEL_EXPORTERS,
                                  "otlp exports traces over OTLP/HTTP, none turns tracing off."),
            server_cache_size=_int(env, "MCP_AUTH_SERVER_CACHE_SIZE", 1024, low=1, high=1_000_000),
            user_cache_ttl=_int(env, "MCP_AUTH_USER_CACHE_TTL", 30, low=0, high=3600),
            firestore_database=env.get("MCP_AUTH_FIRESTORE_DATABASE") or "(default)",
            tool_timeout=_int(env, "MCP_AUTH_TOOL_TIMEOUT", 60, low=1, high=3600),
            rate_limits=RateLimits.from_strings(
                ip=env.get("MCP_AUTH_RATE_LIMIT_IP") or "60/minute",
                user=env.get("MCP_AUTH_RATE_LIMIT_USER") or "600/minute",
                tool=env.get("MCP_AUTH_RATE_LIMIT_TOOL") or "120/minute",
                lease=env.get("MCP_AUTH_RATE_LIMIT_LEASE") or "10",
            ),
            log_level=(env.get("MCP_AUTH_LOG_LEVEL") or "INFO").upper(),
            oauth_upstream_issuer=_url(
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER", env.get("MCP_AUTH_OAUTH_UPSTREAM_ISSUER") or "https://accounts.google.com"
            ),
            oauth_upstream_client_id=env.get("MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID") or None,
            oauth_upstream_client_secret=env.get("MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET") or None,
            oauth_signing_key_secret=env.get("MCP_AUTH_OAUTH_SIGNING_KEY_SECRET") or None,
            oauth_allowed_domains=_list(env.get("MCP_AUTH_OAUTH_ALLOWED_DOMAINS")),
            oauth_allowed_emails=_list(env.get("MCP_AUTH_OAUTH_ALLOWED_EMAILS")),
            oauth_require_user_record=_bool(env, "MCP_AUTH_OAUTH_REQUIRE_USER_RECORD"),
            oauth_access_token_ttl=_int(env, "MCP_AUTH_OAUTH_ACCESS_TOKEN_TTL", 600, low=60, high=3600),
            oauth_refresh_token_ttl=_int(env, "MCP_AUTH_OAUTH_REFRESH_TOKEN_TTL", 2_592_000, low=3600, high=7_776_000),
            oauth_registration_rate=_int(env, "MCP_AUTH_OAUTH_REGISTRATION_RATE", 10, low=1, high=1000),
            oauth_authorize_rate=_int(env, "MCP_AUTH_OAUTH_AUTHORIZE_RATE", 60, low=1, high=10_000),
            oauth_token_rate=_int(env, "MCP_AUTH_OAUTH_TOKEN_RATE", 120, low=1, high=10_000),
            oauth_allow_loopback=_bool(env, "MCP_AUTH_OAUTH_ALLOW_LOOPBACK"),
            project=env.get("GOOGLE_CLOUD_PROJECT") or None,
            on_cloud_run=bool(env.get("K_SERVICE")),
        )
