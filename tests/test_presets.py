"""Provider presets (lib/mcp_auth/presets.py) and the settings that choose them: each preset reads the
account it should, never an unverified email, and refuses malformed, hostile and oversized claims and
settings with a message that says what to do."""

from __future__ import annotations

import json

import pytest

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError
from mcp_auth.presets import ENTRA_DISCOVERY, SignInRefused, build_preset, default_issuer, read_account

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
BASE = {
    "MCP_AUTH_RESOURCE_URL": "https://mcp.example/mcp",
    "MCP_AUTH_PROVIDERS": "oauth",
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": "cid",
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": "up",
    "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": "sign",
}


def test_google_reads_hd_and_only_a_verified_email():
    google = build_preset("google")
    account = read_account(google, {"sub": "1", "email": "A@Example.com", "email_verified": True, "hd": "example.com"})
    assert (account.subject, account.email, account.hosted_domain) == ("1", "a@example.com", "example.com")
    unverified = read_account(google, {"sub": "1", "email": "a@example.com", "email_verified": "true"})
    assert unverified.email is None and unverified.shown_as == "a@example.com"  # shown, never used


def test_entra_is_its_oid_in_an_allowed_tenant_and_its_email_is_never_verified():
    entra = build_preset("entra", tenants=(TENANT,))
    claims = {"sub": "pairwise", "oid": "o-1", "tid": TENANT, "email": "ceo@example.com", "email_verified": True}
    account = read_account(entra, {**claims, "preferred_username": "ceo@example.com", "roles": ["Admin"]})
    assert (account.subject, account.tenant, account.email, account.groups) == ("o-1", TENANT, None, ("Admin",))
    assert account.shown_as == "ceo@example.com"
    with pytest.raises(SignInRefused, match=f"another organisation \\(Microsoft Entra tenant {OTHER}\\)") as other:
        read_account(entra, {**claims, "tid": OTHER})
    assert other.value.account == "ceo@example.com"  # named on the refusal page, never used to decide
    with pytest.raises(SignInRefused, match="did not say which organisation \\(tenant\\)"):
        read_account(entra, {**claims, "tid": "../" * 10})


def test_okta_and_generic_presets_read_groups_and_their_configured_claims():
    assert read_account(build_preset("okta"), {"sub": "s", "groups": ["b", "a", "a"]}).groups == ("a", "b")
    assert "groups" in build_preset("okta").scopes
    generic = build_preset("oidc", subject_claim="uid", email_claim="mail", groups_claim="https://x.example/roles")
    account = read_account(
        generic, {"uid": "7", "mail": "m@x.example", "email_verified": True, "https://x.example/roles": "ops"}
    )
    assert (account.subject, account.email, account.groups) == ("7", "m@x.example", ("ops",))


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": ""},
        {"sub": "x" * 256},
        {"sub": "a\nb"},
        {"sub": 5},
        {"sub": "s", "groups": {"a": 1}},
        {"sub": "s", "groups": [1, 2]},
        {"sub": "s", "groups": ["ok", "x" * 300]},
        {"sub": "s", "groups": ["\x00admin"]},
        {"sub": "s", "groups": [f"g{i}" for i in range(257)]},
    ],
)
def test_malformed_hostile_and_oversized_claims_are_refused_with_a_message(claims):
    with pytest.raises(SignInRefused) as refused:
        read_account(build_preset("okta"), claims)
    assert len(str(refused.value)) < 300


@pytest.mark.parametrize(
    "email",
    [
        "a@b@example.com",
        "@example.com",
        "a@",
        "a@localhost",
        "a@.example.com",
        "x" * 320 + "@example.com",
        "a\r@ex.com",
    ],
)
def test_malformed_emails_are_not_verified_emails(email):
    account = read_account(build_preset("okta"), {"sub": "s", "email": email, "email_verified": True})
    assert account.email is None


def test_entra_issuers_follow_the_tenants():
    assert (
        default_issuer(build_preset("entra", tenants=(TENANT,))) == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    )
    assert default_issuer(build_preset("entra", tenants=(TENANT, OTHER))) == ENTRA_DISCOVERY
    settings = Settings.from_env(
        {**BASE, "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "entra", "MCP_AUTH_OAUTH_UPSTREAM_TENANTS": TENANT.upper()}
    )
    assert settings.oauth_upstream_issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert settings.upstream_preset().tenants == (TENANT,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "gitlab"}, "one of auto, google"),
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "entra"}, "tenant id"),
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "entra", "MCP_AUTH_OAUTH_UPSTREAM_TENANTS": "contoso"}, "GUID"),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "entra",
                "MCP_AUTH_OAUTH_UPSTREAM_TENANTS": TENANT,
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com",
            },
            "verifies no email",
        ),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "entra",
                "MCP_AUTH_OAUTH_UPSTREAM_TENANTS": TENANT,
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": f"https://login.microsoftonline.com/{OTHER}/v2.0",
            },
            "entra preset is",
        ),
        (
            {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "okta", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com"},
            "needs MCP_AUTH_OAUTH_UPSTREAM_ISSUER",
        ),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "keycloak",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "https://sso.example.com/auth",
            },
            "/realms/",
        ),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "google",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "https://evil.example",
            },
            "google preset is https://accounts.google.com",
        ),
        ({"MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com", "MCP_AUTH_OAUTH_SUBJECT_CLAIM": "email"}, "oidc only"),
        ({"MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com", "MCP_AUTH_OAUTH_GROUPS_CLAIM": "groups"}, "no groups"),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "okta",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "https://x.okta.com",
                "MCP_AUTH_OAUTH_GROUPS_CLAIM": "a b",
            },
            "claim name",
        ),
        ({"MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com", "MCP_AUTH_OAUTH_UPSTREAM_SCOPES": "email"}, "include openid"),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "okta",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "https://x.okta.com",
                "MCP_AUTH_OAUTH_UPSTREAM_SCOPES": "openid,email,groups",
            },
            "include offline_access",
        ),
        ({"MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com", "MCP_AUTH_OAUTH_GROUP_GRANTS": "[1]"}, "JSON object"),
        (
            {
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_GROUP_GRANTS": json.dumps({"g": {"toolsets": ["a b"]}}),
            },
            "letters, digits",
        ),
        (
            {
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_GROUP_GRANTS": json.dumps({"g": {"toolsets": [], "admin": True}}),
            },
            "toolsets and scopes only",
        ),
        (
            {
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com",
                "MCP_AUTH_OAUTH_GROUP_GRANTS": json.dumps({f"g{i}": {} for i in range(501)}),
            },
            "at most 500",
        ),
        ({"MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com", "MCP_AUTH_OAUTH_GROUP_GRANTS": "{" * 70_000}, "longer than"),
    ],
)
def test_bad_preset_settings_stop_the_start_saying_what_to_do(change, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **change})


def test_chosen_scopes_keep_offline_access_where_the_preset_asks_for_it():
    assert build_preset("okta", scopes=("openid", "offline_access", "groups")).scopes[1] == "offline_access"
    # Google has no such scope (it is access_type=offline): chosen scopes without it are fine
    assert build_preset("google", scopes=("openid", "email")).scopes == ("openid", "email")
    with pytest.raises(ValueError, match="offline_access"):
        build_preset("keycloak", scopes=("openid",))


def test_the_preset_defaults_follow_the_issuer():
    assert Settings.from_env({**BASE, "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com"}).upstream_preset().name == "google"
    other = Settings.from_env(
        {**BASE, "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "e.com", "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "https://id.example"}
    )
    assert other.upstream_preset().name == "oidc"


def test_github_reads_the_numeric_id_the_verified_email_and_the_organization_s_teams():
    github = build_preset("github", organization="acme", teams=("platform",))
    assert github.scopes == ("read:user", "user:email", "read:org") and default_issuer(github) == "https://github.com"
    claims = {"sub": "583231", "login": "octocat", "organization": "acme", "groups": ["acme/platform"]}
    account = read_account(github, {**claims, "email": "Octo@Example.com", "email_verified": True})
    assert (account.subject, account.email, account.groups) == ("583231", "octo@example.com", ("acme/platform",))
    unverified = read_account(github, {**claims, "email": "octo@example.com"})
    assert unverified.email is None and unverified.shown_as == "octo@example.com"
    assert read_account(github, claims).shown_as == "octocat"
    with pytest.raises(SignInRefused, match="acme"):  # the step did not confirm the membership
        read_account(github, {**claims, "organization": None})
    assert build_preset("github").scopes == ("read:user", "user:email")  # no organization: no read:org


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github"}, "MCP_AUTH_OAUTH_GITHUB_ORG"),
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github", "MCP_AUTH_OAUTH_GITHUB_ORG": "-acme"}, "organization is its"),
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github", "MCP_AUTH_OAUTH_GITHUB_ORG": "a" * 40}, "organization is its"),
        ({"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github", "MCP_AUTH_OAUTH_GITHUB_TEAMS": "ops"}, "need the organization"),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github",
                "MCP_AUTH_OAUTH_GITHUB_ORG": "acme",
                "MCP_AUTH_OAUTH_GITHUB_TEAMS": "a b",
            },
            "slug",
        ),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github",
                "MCP_AUTH_OAUTH_GITHUB_ORG": "acme",
                "MCP_AUTH_OAUTH_UPSTREAM_SCOPES": "repo",
            },
            "scopes it needs",
        ),
        (
            {
                "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github",
                "MCP_AUTH_OAUTH_GITHUB_ORG": "acme",
                "MCP_AUTH_OAUTH_GITHUB_API_URL": "http://ghe.example/api/v3",
            },
            "https",
        ),
        ({"MCP_AUTH_OAUTH_GITHUB_ORG": "acme", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com"}, "github preset only"),
        (
            {
                "MCP_AUTH_OAUTH_GITHUB_API_URL": "https://ghe.example/api/v3",
                "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com",
            },
            "github preset only",
        ),
    ],
)
def test_bad_github_settings_stop_the_start_saying_what_to_do(change, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **change})


def test_github_defaults_to_github_com_and_enterprise_server_s_api_beside_its_base():
    cloud = Settings.from_env({**BASE, "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github", "MCP_AUTH_OAUTH_GITHUB_ORG": "acme"})
    assert (cloud.oauth_upstream_issuer, cloud.github_api_url()) == ("https://github.com", "https://api.github.com")
    ghes = Settings.from_env(
        {
            **BASE,
            "MCP_AUTH_OAUTH_UPSTREAM_PRESET": "github",
            "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "https://ghe.acme.example/",
            "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "acme.example",
        }
    )
    assert ghes.github_api_url() == "https://ghe.acme.example/api/v3" and ghes.upstream_preset().organization is None
