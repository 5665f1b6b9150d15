"""Least privilege and safety, read from the plan of the example team tfvars."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests._fixtures.terraform import Workspace, make_workspace
from tests.terraform.plan_json import (
    FUNCTION,
    PRIMARY_FUNCTION,
    config_resource,
    function_env,
    of_type,
    one,
    planned_resources,
    references,
)

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
    assert [r["address"] for r in public] == ['google_cloud_run_v2_service_iam_member.public["primary"]']
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
    function = one(terraform_plan, PRIMARY_FUNCTION)["values"]
    build = function["build_config"][0]
    assert build["entry_point"] == "mcp"
    assert int(build["runtime"].removeprefix("python3")) >= 11
    obj = one(terraform_plan, "google_storage_bucket_object.source")["values"]
    assert obj["source"] == str(terraform_workspace.archive)
    storage = config_resource(terraform_plan, FUNCTION)["expressions"]["build_config"][0]
    assert (
        "google_storage_bucket_object.source.name" in storage["source"][0]["storage_source"][0]["object"]["references"]
    )


def test_function_runs_as_the_runtime_account_and_builds_as_the_build_account(
    terraform_plan: dict[str, Any],
) -> None:
    expressions = config_resource(terraform_plan, FUNCTION)["expressions"]
    assert (
        "google_service_account.runtime.email"
        in expressions["service_config"][0]["service_account_email"]["references"]
    )
    assert "google_service_account.build.id" in expressions["build_config"][0]["service_account"]["references"]


def test_function_shape_follows_the_tfvars(terraform_plan: dict[str, Any]) -> None:
    service = one(terraform_plan, PRIMARY_FUNCTION)["values"]["service_config"][0]
    assert service["min_instance_count"] == 1 and service["max_instance_count"] == 50
    assert service["max_instance_request_concurrency"] == 40
    assert service["ingress_settings"] == "ALLOW_ALL"


def test_secret_values_never_enter_terraform_state(terraform_plan: dict[str, Any]) -> None:
    assert of_type(terraform_plan, "google_secret_manager_secret_version") == []


def test_monitoring_has_metrics_alerts_uptime_check_and_dashboard(terraform_plan: dict[str, Any]) -> None:
    metrics = {r["values"]["name"] for r in of_type(terraform_plan, "google_logging_metric")}
    assert metrics == {f"acme-mcp/{m}" for m in ("requests", "latency", "auth_failures", "tool_errors", "active_users")}
    assert len(of_type(terraform_plan, "google_monitoring_alert_policy")) == 3
    uptime = one(terraform_plan, "google_monitoring_uptime_check_config.health")["values"]
    assert uptime["http_check"][0]["path"] == "/healthz" and uptime["http_check"][0]["use_ssl"] is True
    assert len(of_type(terraform_plan, "google_monitoring_dashboard")) == 1


def test_build_triggers_test_as_the_tester_and_deploy_as_the_deployer_after_approval(
    terraform_plan: dict[str, Any],
) -> None:
    deploy = one(terraform_plan, "google_cloudbuild_trigger.deploy[0]")["values"]
    test = one(terraform_plan, "google_cloudbuild_trigger.test[0]")["values"]
    assert test["filename"] == "cloudbuild.test.yaml" and test["approval_config"] == []
    assert deploy["git_file_source"][0]["path"] == "cloudbuild.deploy.yaml"
    assert deploy["approval_config"] == [{"approval_required": True}]
    assert deploy["substitutions"]["_TFVARS"] == "terraform/examples/team.tfvars"
    assert references(terraform_plan, "google_cloudbuild_trigger.test", "service_account") == [
        "google_service_account.tester.id",
        "google_service_account.tester",
    ]
    assert references(terraform_plan, "google_cloudbuild_trigger.deploy", "service_account") == [
        "google_service_account.deployer.id",
        "google_service_account.deployer",
    ]


def _member_of(plan: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    return references(plan, resource["address"].split("[")[0], "member")


def test_tester_may_write_logs_and_nothing_else(terraform_plan: dict[str, Any]) -> None:
    granted = [
        (r["type"], r["values"]["role"])
        for r in _iam_resources(terraform_plan)
        if "google_service_account.tester" in _member_of(terraform_plan, r)
    ]
    assert granted == [("google_project_iam_member", "roles/logging.logWriter")]


def test_deployer_may_act_as_and_manage_only_this_stacks_accounts(terraform_plan: dict[str, Any]) -> None:
    on_accounts = {
        (r["address"].split('"')[1].split("/")[0], r["values"]["role"])
        for r in of_type(terraform_plan, "google_service_account_iam_member")
    }
    accounts = {r["name"] for r in of_type(terraform_plan, "google_service_account")}
    assert accounts == {"runtime", "build", "tester", "deployer"}
    assert on_accounts == {(a, role) for a in accounts for role in _ACCOUNT_ROLES}


_ACCOUNT_ROLES = ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountAdmin")
_GRANTABLE = re.compile(
    r"^api\.getAttribute\('iam\.googleapis\.com/modifiedGrantsByRole', \[\]\)\.hasOnly\(\[(?P<roles>[^\]]*)\]\)$"
)


def _project_roles(plan: dict[str, Any]) -> set[str]:
    return {r["values"]["role"] for r in of_type(plan, "google_project_iam_member")}


def _grantable_roles(plan: dict[str, Any]) -> list[str]:
    grant = one(plan, 'google_project_iam_member.deployer["roles/resourcemanager.projectIamAdmin"]')["values"]
    [condition] = grant["condition"]
    match = _GRANTABLE.match(condition["expression"])
    assert match, f"not the documented modifiedGrantsByRole form: {condition['expression']}"
    return re.findall(r"'([^']+)'", match["roles"])


def test_deployer_may_grant_exactly_the_project_roles_the_configuration_grants(terraform_plan: dict[str, Any]) -> None:
    grantable = _grantable_roles(terraform_plan)
    assert len(grantable) == len(set(grantable))
    # Read from the plan: a project grant added without its role in the condition fails here.
    assert set(grantable) == _project_roles(terraform_plan) - {"roles/resourcemanager.projectIamAdmin"}


def test_a_project_grant_left_out_of_the_condition_is_caught(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    (workspace.path / "zz_extra_grant.tf").write_text(
        'resource "google_project_iam_member" "extra" {\n'
        "  project = var.project_id\n"
        '  role    = "roles/pubsub.viewer"\n'
        "  member  = google_service_account.runtime.member\n}\n"
    )
    plan = workspace.plan()
    missing = _project_roles(plan) - {"roles/resourcemanager.projectIamAdmin"} - set(_grantable_roles(plan))
    assert missing == {"roles/pubsub.viewer"}


def test_deployer_cannot_grant_the_role_that_grants_roles_nor_basic_roles(terraform_plan: dict[str, Any]) -> None:
    grantable = set(_grantable_roles(terraform_plan))
    assert "roles/resourcemanager.projectIamAdmin" not in grantable
    assert not grantable & _BROAD_ROLES
    assert not {r for r in grantable if r.startswith("roles/iam.")}


def test_runtime_reaches_firestore_only_in_its_own_database(terraform_plan: dict[str, Any]) -> None:
    firestore = [
        r
        for r in _iam_resources(terraform_plan)
        if r["values"]["role"].startswith("roles/datastore.")
        and "google_service_account.runtime" in _member_of(terraform_plan, r)
    ]
    assert [r["values"]["role"] for r in firestore] == ["roles/datastore.user"]
    [condition] = firestore[0]["values"]["condition"]
    assert condition["expression"] == 'resource.name == "projects/acme-mcp-prod/databases/(default)"'


def test_runtime_firestore_condition_follows_a_named_database(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(variables=['firestore={database_id="mcp-users"}'])
    grant = one(plan, 'google_project_iam_member.runtime["roles/datastore.user"]')["values"]
    assert grant["condition"][0]["expression"] == 'resource.name == "projects/acme-mcp-prod/databases/mcp-users"'
    assert one(plan, "google_firestore_database.this")["values"]["name"] == "mcp-users"


def test_only_the_two_documented_grants_carry_conditions(terraform_plan: dict[str, Any]) -> None:
    conditioned = sorted(r["address"] for r in _iam_resources(terraform_plan) if r["values"].get("condition"))
    assert conditioned == [
        'google_project_iam_member.deployer["roles/resourcemanager.projectIamAdmin"]',
        'google_project_iam_member.runtime["roles/datastore.user"]',
    ]


def test_deployer_manages_the_build_events_topic_on_the_topic_only(terraform_plan: dict[str, Any]) -> None:
    assert not {r for r in _project_roles(terraform_plan) if r.startswith("roles/pubsub.")}
    [grant] = of_type(terraform_plan, "google_pubsub_topic_iam_member")
    assert grant["values"]["topic"] == "cloud-builds"
    assert "google_service_account.deployer" in _member_of(terraform_plan, grant)


def test_outputs_give_what_a_user_needs_next(terraform_plan: dict[str, Any]) -> None:
    outputs = terraform_plan["planned_values"]["outputs"]
    assert {"mcp_url", "prm_url", "service_accounts", "secrets_to_fill"} <= set(outputs)
    assert outputs["mcp_url"]["value"].endswith(".europe-west1.run.app/mcp")
    assert outputs["prm_url"]["value"].endswith("/.well-known/oauth-protected-resource/mcp")


def test_a_custom_domain_becomes_the_resource_url(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(variables=["public_base_url=https://mcp.acme.example"])
    assert plan["planned_values"]["outputs"]["mcp_url"]["value"] == "https://mcp.acme.example/mcp"
    env = function_env(plan)
    assert env["MCP_AUTH_RESOURCE_URL"] == "https://mcp.acme.example/mcp"
