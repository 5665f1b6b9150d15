"""The function's environment in Terraform and the settings the code reads stay in step.

The code's side is what ``lib/mcp_auth/config.py`` declares (``SETTINGS``): every name
``Settings.from_env`` reads. Terraform's side is the plan of the example tfvars, so what is
compared is what would really be deployed: the function in var.region, and with more regions
the function in each of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from mcp_auth import config
from tests._fixtures.terraform import TerraformFailed, Workspace
from tests.terraform.plan_json import FUNCTION, PRIMARY_FUNCTION, function_env, of_type, one

#: Settings Terraform must not set, and why. Each must still be declared by the code.
NOT_FROM_TERRAFORM = {
    "MCP_AUTH_JWT_HS256_KEY": "a raw key for local development; refused on Cloud Run",
    "MCP_AUTH_DEV_USER": "the development provider; refused on Cloud Run",
    "MCP_AUTH_API_KEY_PEPPER": "a raw pepper for local development; refused on Cloud Run",
    "MCP_AUTH_SECRET_MANAGER_ENDPOINT": "points the client at an emulator; refused on Cloud Run",
    "MCP_AUTH_CLOUD_TRACE_ENDPOINT": "points the Cloud Trace exporter at a stand-in; refused on Cloud Run",
    "K_SERVICE": "set by Cloud Run itself",
    "FIRESTORE_EMULATOR_HOST": "points the client at the emulator; development and tests only",
    "MCP_AUTH_OAUTH_ALLOW_LOOPBACK": "lets tests use loopback identity providers; refused on Cloud Run",
    "MCP_AUTH_OAUTH_DEV_SIGN_IN": "the local sign-in page of make dev; refused on Cloud Run",
    "MCP_AUTH_OAUTH_SIGNING_KEY": "a raw signing key for make dev's authorization server; refused on Cloud Run",
}


def _declared() -> set[str]:
    names = getattr(config, "SETTING_NAMES", None) or config.SETTINGS
    return set(names)


def _function_env(plan: dict[str, Any]) -> dict[str, str]:
    return function_env(plan, PRIMARY_FUNCTION)


def _secret_settings(plan: dict[str, Any]) -> dict[str, str]:
    """Setting name → secret id, for every secret Terraform creates for a setting."""
    return {
        r["values"]["labels"]["setting"].upper(): r["values"]["secret_id"]
        for r in of_type(plan, "google_secret_manager_secret")
        if "setting" in r["values"]["labels"]
    }


def _connection_secrets(plan: dict[str, Any]) -> dict[str, str]:
    """Connected-account provider → the id of the secret Terraform creates for its client secret."""
    return {
        r["values"]["labels"]["connection"]: r["values"]["secret_id"]
        for r in of_type(plan, "google_secret_manager_secret")
        if "connection" in r["values"]["labels"]
    }


def test_every_setting_the_code_reads_is_set_by_the_function_resource(terraform_plan: dict[str, Any]) -> None:
    missing = _declared() - set(NOT_FROM_TERRAFORM) - set(_function_env(terraform_plan))
    assert missing == set(), (
        f"The code reads {sorted(missing)} but the function resource does not set them: add them to "
        "local.function_env in terraform/function.tf (or to NOT_FROM_TERRAFORM here, with the reason)."
    )


def test_every_variable_terraform_sets_is_read_by_the_code(terraform_plan: dict[str, Any]) -> None:
    unread = set(_function_env(terraform_plan)) - _declared()
    assert unread == set(), (
        f"Terraform sets {sorted(unread)} but lib/mcp_auth/config.py does not declare them "
        "(and Settings.from_env refuses unknown MCP_AUTH_ names): declare them or drop them from terraform/."
    )


def test_settings_kept_out_of_terraform_are_still_read_by_the_code() -> None:
    assert set(NOT_FROM_TERRAFORM) - _declared() == set()


CONNECTIONS = (
    'connections=[{name="github", client_id="Iv1.gh"}, {name="acme_id", authorize_url="https://id.acme.example/a", '
    'token_url="https://id.acme.example/t", revoke_url="https://id.acme.example/r", scopes=["read"], '
    'client_id="mcp"}]'
)

#: Every feature that reads a secret turned on at once: all auth providers (the built-in
#: authorization server included), the platform and connected accounts.
ALL_PROVIDERS = (
    'auth={providers=["jwt", "introspection", "api_key", "oauth"], jwt_issuer="https://issuer.example", '
    'introspection_url="https://issuer.example/introspect", introspection_client_id="mcp"}',
    'platform={url="https://platform.example"}',
    "request_state_key=true",
    CONNECTIONS,
)


def test_every_secret_setting_names_a_secret_terraform_creates_when_its_provider_is_on(
    terraform_workspace: Workspace,
) -> None:
    plan = terraform_workspace.plan(variables=list(ALL_PROVIDERS))
    declared_secrets = {name for name in _declared() if name.endswith("_SECRET")}
    created = _secret_settings(plan)
    assert declared_secrets == set(created), (
        f"Secret settings in the code: {sorted(declared_secrets)}; "
        f"secrets Terraform creates: {sorted(created)} (terraform/secrets.tf, local.secret_settings)."
    )
    env = _function_env(plan)
    for setting, secret_id in created.items():
        assert env[setting] == secret_id
    accessors = [r for r in of_type(plan, "google_secret_manager_secret_iam_member")]
    connection_secrets = _connection_secrets(plan)
    assert sorted(r["values"]["secret_id"] for r in accessors) == sorted(
        [*created.values(), *connection_secrets.values()]
    )


def test_connections_reach_the_code_as_settings_it_accepts_with_a_secret_per_client(
    terraform_workspace: Workspace,
) -> None:
    """MCP_AUTH_CONNECTIONS is what the code parses, and each client secret it names is created and readable."""
    plan = terraform_workspace.plan(variables=[CONNECTIONS])
    env = _function_env(plan)
    settings = config.Settings.from_env({k: v for k, v in env.items() if k.startswith("MCP_AUTH_") and v})
    by_name = {p.name: p for p in settings.connections}
    assert set(by_name) == {"github", "acme_id"}
    assert by_name["github"].type == "github" and by_name["github"].client_id == "Iv1.gh"
    assert by_name["acme_id"].revoke_url == "https://id.acme.example/r" and by_name["acme_id"].scopes == ("read",)
    secrets = _connection_secrets(plan)
    assert {by_name["github"].client_secret, by_name["acme_id"].client_secret} == set(secrets.values())
    assert set(settings.secret_names) <= set(_secret_settings(plan).values()) | set(secrets.values())


def test_no_connections_no_connection_secrets(terraform_plan: dict[str, Any]) -> None:
    assert _connection_secrets(terraform_plan) == {}
    assert _function_env(terraform_plan)["MCP_AUTH_CONNECTIONS"] == ""


def test_secrets_of_providers_that_are_off_are_neither_created_nor_configured(terraform_plan: dict[str, Any]) -> None:
    created = _secret_settings(terraform_plan)
    assert set(created) == {"MCP_AUTH_JWT_HS_SECRET"}  # the example uses HS256 tokens only
    env = _function_env(terraform_plan)
    for setting in {name for name in _declared() if name.endswith("_SECRET")} - set(created):
        assert env[setting] == "", f"{setting} names a secret that does not exist: the function would not start"


def test_a_jwks_issuer_needs_no_hs256_secret(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(
        variables=['auth={jwt_issuer="https://issuer.example", jwt_jwks_url="https://issuer.example/jwks"}']
    )
    assert _secret_settings(plan) == {}
    assert _function_env(plan)["MCP_AUTH_JWT_JWKS_URL"] == "https://issuer.example/jwks"


def test_the_function_environment_holds_no_secret_value(terraform_plan: dict[str, Any]) -> None:
    function = one(terraform_plan, PRIMARY_FUNCTION)["values"]
    assert function["service_config"][0].get("secret_environment_variables") in (None, [])
    env = _function_env(terraform_plan)
    assert set(NOT_FROM_TERRAFORM) & set(env) == set()  # raw keys and peppers are development-only
    secret_ids = set(_secret_settings(terraform_plan).values())
    for name in (n for n in env if n.endswith("_SECRET")):
        assert env[name] in secret_ids | {""}, f"{name} must name a secret Terraform creates, not hold a value"


def test_the_function_in_every_region_runs_with_the_settings_the_code_reads(
    edge_plans: dict[str, dict[str, Any]],
) -> None:
    """With more regions, each region's function gets the same environment, which is the contract's."""
    plan = edge_plans["domain+3regions+cmek"]
    functions = [r for r in of_type(plan, "google_cloudfunctions2_function") if r["address"].startswith(FUNCTION)]
    assert len(functions) == 3
    primary = function_env(plan)
    assert set(primary) == _declared() - set(NOT_FROM_TERRAFORM) - {"MCP_AUTH_TRUSTED_PROXIES"}  # known after apply
    for function in functions:
        assert function_env(plan, function["address"]) == primary, function["address"]


def test_the_github_preset_reaches_the_code_as_settings_it_accepts(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(
        variables=[
            'oauth={upstream_preset="github", upstream_issuer="https://ghe.acme.example", upstream_client_id="Iv1.gh", '
            'github={organization="acme", teams=["platform", "sre"], api_url="https://ghe.acme.example/api/v3"}}'
        ]
    )
    env = {k: v for k, v in _function_env(plan).items() if k.startswith("MCP_AUTH_OAUTH_") and v}
    settings = config.Settings.from_env(
        {"MCP_AUTH_RESOURCE_URL": "http://127.0.0.1/mcp", "MCP_AUTH_PROVIDERS": "dev", "MCP_AUTH_DEV_USER": "u", **env}
    )
    preset = settings.upstream_preset()
    assert (preset.name, preset.organization, preset.teams) == ("github", "acme", ("platform", "sre"))
    assert settings.github_api_url() == "https://ghe.acme.example/api/v3"


def test_github_settings_for_another_preset_or_without_an_organization_are_refused(
    terraform_workspace: Workspace,
) -> None:
    for variable, needle in (
        ('oauth={github={organization="acme"}}', "github upstream preset only"),
        ('oauth={upstream_preset="github", github={teams=["ops"]}}', "need the organization"),
        ('oauth={upstream_preset="github", github={organization="-acme"}}', "oauth.github.organization"),
        ('oauth={upstream_preset="github", github={api_url="http://ghe.example/api/v3"}}', "oauth.github.api_url"),
    ):
        with pytest.raises(TerraformFailed) as caught:
            terraform_workspace.plan(variables=[variable])
        assert needle in " ".join(str(caught.value).split()), variable
