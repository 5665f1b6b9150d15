"""Least privilege and safety, read from the plan of the example team tfvars."""

from __future__ import annotations

from typing import Any

from tests._fixtures.terraform import Workspace
from tests.terraform.plan_json import config_resource, of_type, one, planned_resources, references

_BROAD_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


def _iam_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in planned_resources(plan) if "_iam_" in r["type"]]


def test_no_account_gets_a_basic_role(terraform_plan: dict[str, Any]) -> None:
    granted = {r["values"]["role"] for r in _iam_resources(terraform_plan)}
    assert granted, "the plan grants no roles at all"
    assert not granted & _BROAD_ROLES


def test_iam_is_additive_members_never_authoritative_policies(terraform_plan: dict[str, Any]) -> None:
    authoritative = [
        r["address"] for r in _iam_resources(terraform_plan) if r["type"].endswith(("_policy", "_binding"))
    ]
    assert authoritative == []


def test_secret_accessor_is_granted_per_secret_to_the_runtime_account_only(
    terraform_plan: dict[str, Any],
) -> None:
    accessor = [
        r for r in _iam_resources(terraform_plan) if r["values"]["role"] == "roles/secretmanager.secretAccessor"
    ]
    assert [r["type"] for r in accessor] == ["google_secret_manager_secret_iam_member"] * len(accessor)
    assert len(accessor) == len(of_type(terraform_plan, "google_secret_manager_secret")) > 0
    for resource in accessor:
        base = resource["address"].split("[")[0]
        assert "google_service_account.runtime" in references(terraform_plan, base, "member")


def test_no_project_wide_secret_access(terraform_plan: dict[str, Any]) -> None:
    project_roles = {r["values"]["role"] for r in of_type(terraform_plan, "google_project_iam_member")}
    assert not {role for role in project_roles if role.startswith("roles/secretmanager.")} - {
        "roles/secretmanager.admin"
    }
    admins = [
        r["address"]
        for r in of_type(terraform_plan, "google_project_iam_member")
        if r["values"]["role"] == "roles/secretmanager.admin"
    ]
    assert all(a.startswith("google_project_iam_member.deployer[") for a in admins)


def test_all_users_only_as_the_documented_public_invoker(terraform_plan: dict[str, Any]) -> None:
    public = [r for r in _iam_resources(terraform_plan) if "allUsers" in str(r["values"])]
    assert [r["address"] for r in public] == ["google_cloud_run_v2_service_iam_member.public_invoker[0]"]
    assert public[0]["values"]["role"] == "roles/run.invoker"


def test_public_invoker_off_means_no_public_member(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(variables=["public_invoker=false"])
    assert [r for r in planned_resources(plan) if "allUsers" in str(r["values"])] == []


def test_firestore_is_native_with_point_in_time_recovery_and_delete_protection(
    terraform_plan: dict[str, Any],
) -> None:
    db = one(terraform_plan, "google_firestore_database.this")["values"]
    assert db["type"] == "FIRESTORE_NATIVE"
    assert db["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert db["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"
    assert db["deletion_policy"] == "ABANDON"
    assert db["location_id"] == "eur3"


def test_source_bucket_is_private_versioned_and_not_force_destroyed(terraform_plan: dict[str, Any]) -> None:
    bucket = one(terraform_plan, "google_storage_bucket.source")["values"]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"] == [{"enabled": True}]
    assert bucket["force_destroy"] is False


def test_function_runs_python_311_or_newer_from_the_uploaded_archive(
    terraform_plan: dict[str, Any], terraform_workspace: Workspace
) -> None:
    function = one(terraform_plan, "google_cloudfunctions2_function.this")["values"]
    build = function["build_config"][0]
    assert build["entry_point"] == "mcp"
    assert int(build["runtime"].removeprefix("python3")) >= 11
    obj = one(terraform_plan, "google_storage_bucket_object.source")["values"]
    assert obj["source"] == str(terraform_workspace.archive)
    storage = config_resource(terraform_plan, "google_cloudfunctions2_function.this")["expressions"]["build_config"][0]
    assert (
        "google_storage_bucket_object.source.name" in storage["source"][0]["storage_source"][0]["object"]["references"]
    )


def test_function_runs_as_the_runtime_account_and_builds_as_the_build_account(
    terraform_plan: dict[str, Any],
) -> None:
    expressions = config_resource(terraform_plan, "google_cloudfunctions2_function.this")["expressions"]
    assert (
        "google_service_account.runtime.email"
        in expressions["service_config"][0]["service_account_email"]["references"]
    )
    assert "google_service_account.build.id" in expressions["build_config"][0]["service_account"]["references"]


def test_function_shape_follows_the_tfvars(terraform_plan: dict[str, Any]) -> None:
    service = one(terraform_plan, "google_cloudfunctions2_function.this")["values"]["service_config"][0]
    assert service["min_instance_count"] == 1 and service["max_instance_count"] == 50
    assert service["max_instance_request_concurrency"] == 40
    assert service["ingress_settings"] == "ALLOW_ALL"


def test_secret_values_never_enter_terraform_state(terraform_plan: dict[str, Any]) -> None:
    assert of_type(terraform_plan, "google_secret_manager_secret_version") == []


def test_monitoring_has_metrics_alerts_uptime_check_and_dashboard(terraform_plan: dict[str, Any]) -> None:
    metrics = {r["values"]["name"] for r in of_type(terraform_plan, "google_logging_metric")}
    assert metrics == {
        f"acme-mcp/{m}" for m in ("requests", "latency", "auth_failures", "tool_errors", "active_users")
    }
    assert len(of_type(terraform_plan, "google_monitoring_alert_policy")) == 3
    uptime = one(terraform_plan, "google_monitoring_uptime_check_config.health")["values"]
    assert uptime["http_check"][0]["path"] == "/healthz" and uptime["http_check"][0]["use_ssl"] is True
    assert len(of_type(terraform_plan, "google_monitoring_dashboard")) == 1


def test_build_trigger_deploys_as_the_deployer_and_waits_for_approval(terraform_plan: dict[str, Any]) -> None:
    trigger = one(terraform_plan, "google_cloudbuild_trigger.deploy[0]")["values"]
    assert trigger["filename"] == "cloudbuild.yaml"
    assert trigger["approval_config"] == [{"approval_required": True}]
    assert trigger["substitutions"]["_TFVARS"] == "terraform/examples/team.tfvars"
    assert "google_service_account.deployer.id" in references(
        terraform_plan, "google_cloudbuild_trigger.deploy", "service_account"
    )


def test_outputs_give_what_a_user_needs_next(terraform_plan: dict[str, Any]) -> None:
    outputs = terraform_plan["planned_values"]["outputs"]
    assert {"mcp_url", "prm_url", "service_accounts", "secrets_to_fill"} <= set(outputs)
    assert outputs["mcp_url"]["value"].endswith(".europe-west1.run.app/mcp")
    assert outputs["prm_url"]["value"].endswith("/.well-known/oauth-protected-resource/mcp")


def test_a_custom_domain_becomes_the_resource_url(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(variables=["public_base_url=https://mcp.acme.example"])
    assert plan["planned_values"]["outputs"]["mcp_url"]["value"] == "https://mcp.acme.example/mcp"
    env = one(plan, "google_cloudfunctions2_function.this")["values"]["service_config"][0]["environment_variables"]
    assert env["MCP_AUTH_RESOURCE_URL"] == "https://mcp.acme.example/mcp"
