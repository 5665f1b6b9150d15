"""The edge option (custom domain, load balancer, Cloud Armor, regions, CMEK), read from plans.

The combinations planned are ``EDGE_COMBINATIONS`` (tests/_fixtures/terraform.py); everything off
is the example plan (``terraform_plan``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests._fixtures.terraform import (
    EDGE_COMBINATIONS,
    EDGE_DOMAIN,
    EDGE_EXTRA_REGIONS,
    TERRAFORM_DIR,
    TerraformFailed,
    Workspace,
)
from tests.terraform import toolchain
from tests.terraform.plan_json import EDGE, config_address, of_type, one, planned_resources, references
from tests.terraform.test_checkov import _failed

DOMAIN = EDGE_DOMAIN
EXTRA = EDGE_EXTRA_REGIONS
COMBINATIONS = EDGE_COMBINATIONS
WITH_DOMAIN = ["domain", "domain+3regions+cmek"]
WITH_CMEK = ["domain+3regions+cmek", "cmek"]


def _functions(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return of_type(plan, "google_cloudfunctions2_function")


def _unknown(plan: dict[str, Any], address: str) -> dict[str, Any]:
    return next(c["change"]["after_unknown"] for c in plan["resource_changes"] if c["address"] == address)


def test_the_edge_is_off_by_default(terraform_plan: dict[str, Any]) -> None:
    edge = [
        r["address"]
        for r in planned_resources(terraform_plan)
        if r["type"].startswith(("google_compute_", "google_kms_"))
    ]
    assert edge == []
    (function,) = _functions(terraform_plan)
    assert function["values"]["service_config"][0]["environment_variables"]["MCP_AUTH_TRUSTED_PROXIES"] == ""
    assert function["values"]["service_config"][0]["ingress_settings"] == "ALLOW_ALL"


@pytest.mark.parametrize("combination", WITH_DOMAIN)
def test_with_a_domain_only_the_load_balancer_reaches_the_function_in_every_region(
    edge_plans: dict[str, dict[str, Any]], combination: str
) -> None:
    plan = edge_plans[combination]
    regions = {f["values"]["location"] for f in _functions(plan)}
    assert regions == ({"europe-west1", *EXTRA} if "3regions" in combination else {"europe-west1"})
    ingress = {f["values"]["service_config"][0]["ingress_settings"] for f in _functions(plan)}
    assert ingress == {"ALLOW_INTERNAL_AND_GCLB"}
    negs = of_type(plan, "google_compute_region_network_endpoint_group")
    assert {n["values"]["region"] for n in negs} == regions
    assert {n["values"]["network_endpoint_type"] for n in negs} == {"SERVERLESS"}
    (backend,) = of_type(plan, "google_compute_backend_service")
    assert len(backend["values"]["backend"]) == len(regions)
    assert backend["values"]["load_balancing_scheme"] == "EXTERNAL_MANAGED"


@pytest.mark.parametrize("combination", WITH_DOMAIN)
def test_the_load_balancer_and_its_armor_policy_are_one_instance_of_the_edge_module(
    edge_plans: dict[str, dict[str, Any]], combination: str
) -> None:
    edge = [r["address"] for r in planned_resources(edge_plans[combination]) if r["type"].startswith("google_compute_")]
    assert len(edge) >= 11
    assert [a for a in edge if not a.startswith(f"{EDGE}.")] == []


def test_more_regions_without_a_domain_are_refused(terraform_workspace: Workspace) -> None:
    with pytest.raises(TerraformFailed) as failure:
        terraform_workspace.plan(variables=[f"regions={json.dumps(EXTRA)}"])
    assert "regions needs domain" in " ".join(str(failure.value).split())


@pytest.mark.parametrize("combination", WITH_DOMAIN)
def test_one_managed_certificate_per_domain(edge_plans: dict[str, dict[str, Any]], combination: str) -> None:
    certificates = of_type(edge_plans[combination], "google_compute_managed_ssl_certificate")
    assert [c["values"]["managed"][0]["domains"] for c in certificates] == [[DOMAIN]]


@pytest.mark.parametrize("combination", WITH_DOMAIN)
def test_the_armor_policy_is_attached_to_every_backend_service(
    edge_plans: dict[str, dict[str, Any]], combination: str
) -> None:
    plan = edge_plans[combination]
    backends = of_type(plan, "google_compute_backend_service")
    assert backends
    for backend in backends:
        # The reference is written inside the module, relative to it.
        assert "google_compute_security_policy.this" in references(
            plan, config_address(backend["address"]), "security_policy"
        )
        assert _unknown(plan, backend["address"]).get("security_policy") is True  # the policy's id, after apply


@pytest.mark.parametrize("combination", WITH_DOMAIN)
def test_every_region_has_the_domain_as_url_audience_and_host_and_trusts_only_the_load_balancer(
    edge_plans: dict[str, dict[str, Any]], combination: str
) -> None:
    plan = edge_plans[combination]
    for function in _functions(plan):
        env = function["values"]["service_config"][0]["environment_variables"]
        assert env["MCP_AUTH_RESOURCE_URL"] == f"https://{DOMAIN}/mcp"
        assert env["MCP_AUTH_JWT_AUDIENCE"] == f"https://{DOMAIN}/mcp"
        assert env["MCP_AUTH_ALLOWED_HOSTS"].split(",")[0] == DOMAIN
        # MCP_AUTH_TRUSTED_PROXIES is the global address, known only after apply.
        assert _unknown(plan, function["address"])["service_config"][0]["environment_variables"] == {
            "MCP_AUTH_TRUSTED_PROXIES": True
        }


@pytest.mark.parametrize("combination", WITH_DOMAIN)
def test_http_only_redirects_to_https_and_https_answers_carry_hsts(
    edge_plans: dict[str, dict[str, Any]], combination: str
) -> None:
    plan = edge_plans[combination]
    redirect = one(plan, f"{EDGE}.google_compute_url_map.redirect")["values"]
    assert redirect["default_url_redirect"][0]["https_redirect"] is True
    assert redirect.get("default_service") is None
    rules = {r["values"]["port_range"]: r["address"] for r in of_type(plan, "google_compute_global_forwarding_rule")}
    assert set(rules) == {"80", "443"}
    (backend,) = of_type(plan, "google_compute_backend_service")
    headers = backend["values"]["custom_response_headers"]
    assert any(h.startswith("Strict-Transport-Security: max-age=") for h in headers)
    assert one(plan, f"{EDGE}.google_compute_ssl_policy.this")["values"]["min_tls_version"] == "TLS_1_2"


def test_armor_throttles_and_bans_per_client_ip_and_keeps_json_rpc_breaking_waf_sets_off(
    edge_plans: dict[str, dict[str, Any]],
) -> None:
    policy = one(edge_plans["domain"], f"{EDGE}.google_compute_security_policy.this")["values"]
    assert policy["advanced_options_config"][0]["json_parsing"] == "STANDARD"
    (ban,) = [r for r in policy["rule"] if r["action"] == "rate_based_ban"]
    limits = ban["rate_limit_options"][0]
    assert limits["enforce_on_key"] == "IP"
    assert limits["exceed_action"] == "deny(429)"
    assert limits["rate_limit_threshold"][0]["count"] == 300
    assert limits["ban_threshold"][0]["count"] == 1200
    expressions = " ".join(r["match"][0]["expr"][0]["expression"] for r in policy["rule"] if r["match"][0]["expr"])
    assert "content-length" in expressions
    assert "evaluatePreconfiguredWaf('methodenforcement-v33-stable'" in expressions
    assert "evaluatePreconfiguredWaf('cve-canary')" in expressions
    for body_signatures in ("sqli", "xss", "lfi", "rfi", "rce"):
        assert f"'{body_signatures}-" not in expressions
    (default,) = [r for r in policy["rule"] if r["priority"] == 2147483647]
    assert default["action"] == "allow"


@pytest.mark.parametrize("combination", WITH_CMEK)
def test_cmek_encrypts_firestore_secrets_and_the_bucket_with_keys_only_their_agents_use(
    edge_plans: dict[str, dict[str, Any]], combination: str
) -> None:
    plan = edge_plans[combination]
    keys = {k["address"]: k["values"] for k in of_type(plan, "google_kms_crypto_key")}
    assert set(keys) == {f'google_kms_crypto_key.this["{k}"]' for k in ("firestore", "storage", "secrets-global")}
    assert {v["rotation_period"] for v in keys.values()} == {"7776000s"}
    rings = {r["values"]["location"] for r in of_type(plan, "google_kms_key_ring")}
    assert rings == {"europe", "europe-west1", "global"}  # eur3's KMS location, the bucket's region, auto replication
    grants = of_type(plan, "google_kms_crypto_key_iam_member")
    assert {g["values"]["role"] for g in grants} == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    assert all(g["values"]["member"].startswith("serviceAccount:service-") for g in grants)
    assert _unknown(plan, "google_firestore_database.this")["cmek_config"][0]["kms_key_name"] is True
    assert _unknown(plan, "google_storage_bucket.source")["encryption"][0]["default_kms_key_name"] is True
    for secret in of_type(plan, "google_secret_manager_secret"):
        unknown = _unknown(plan, secret["address"])
        assert unknown["replication"][0]["auto"][0]["customer_managed_encryption"][0]["kms_key_name"] is True


def test_without_cmek_no_key_is_planned(edge_plans: dict[str, dict[str, Any]], terraform_plan: dict[str, Any]) -> None:
    for plan in (terraform_plan, edge_plans["domain"]):
        assert of_type(plan, "google_kms_crypto_key") == []
        assert one(plan, "google_storage_bucket.source")["values"]["encryption"] == []


@pytest.mark.parametrize("combination", list(COMBINATIONS))
def test_checkov_reports_no_failed_checks_on_each_edge_plan(
    edge_plans: dict[str, dict[str, Any]], combination: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(edge_plans[combination]))
    result = toolchain.checkov(
        ["-f", str(plan), "--framework", "terraform_plan", "--repo-root-for-plan-enrichment", str(TERRAFORM_DIR)]
        + ["--skip-download", "--quiet", "--compact", "-o", "json"]
    )
    assert _failed(result) == []
    assert result.returncode == 0, result.stderr[-3000:]
