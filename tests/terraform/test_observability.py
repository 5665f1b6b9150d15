"""Terraform's audit and tracing variables reach the function's environment, validated; the audit
collection has its TTL policy."""

from __future__ import annotations

import pytest

from tests._fixtures.terraform import TerraformFailed, Workspace
from tests.terraform.plan_json import function_env, of_type


def _env(plan) -> dict[str, str]:
    return function_env(plan)


def test_audit_and_tracing_are_off_by_default_and_the_audit_collection_has_a_ttl(terraform_plan):
    env = _env(terraform_plan)
    assert env["MCP_AUTH_AUDIT_FIRESTORE"] == "false" and env["MCP_AUTH_AUDIT_RETENTION_DAYS"] == "30"
    assert env["MCP_AUTH_OTEL_EXPORTER"] == "none" and env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on" and env["OTEL_TRACES_SAMPLER_ARG"] == "1"
    ttl = {(r["values"]["collection"], r["values"]["field"]) for r in of_type(terraform_plan, "google_firestore_field")}
    assert ("audit", "expire_at") in ttl


def test_turning_them_on_sets_the_function_environment(terraform_workspace: Workspace):
    plan = terraform_workspace.plan(
        variables=[
            "audit={firestore=true, retention_days=400}",
            'tracing={exporter="otlp", otlp_endpoint="https://otel.example:4318", service_name="team-mcp", '
            'sampler="traceidratio", sample_ratio=0.25}',
        ]
    )
    env = _env(plan)
    assert env["MCP_AUTH_AUDIT_FIRESTORE"] == "true" and env["MCP_AUTH_AUDIT_RETENTION_DAYS"] == "400"
    assert env["MCP_AUTH_OTEL_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otel.example:4318"
    assert env["OTEL_SERVICE_NAME"] == "team-mcp"
    assert env["OTEL_TRACES_SAMPLER"] == "traceidratio" and env["OTEL_TRACES_SAMPLER_ARG"] == "0.25"


def test_cloud_trace_needs_no_collector_and_the_runtime_may_write_traces(terraform_workspace: Workspace):
    plan = terraform_workspace.plan(variables=['tracing={exporter="gcp", sampler="traceidratio", sample_ratio=0.1}'])
    env = _env(plan)
    assert env["MCP_AUTH_OTEL_EXPORTER"] == "gcp" and env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""
    assert env["OTEL_TRACES_SAMPLER"] == "traceidratio" and env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    assert "MCP_AUTH_CLOUD_TRACE_ENDPOINT" not in env  # the stand-in endpoint is for tests only
    runtime = {
        r["values"]["role"]
        for r in of_type(plan, "google_project_iam_member")
        if r["address"].startswith("google_project_iam_member.runtime[")
    }
    assert "roles/cloudtrace.agent" in runtime


@pytest.mark.parametrize(
    ("variable", "needle"),
    [
        ("audit={retention_days=0}", "audit.retention_days"),
        ("audit={retention_days=3651}", "audit.retention_days"),
        ("audit={retention_days=1.5}", "audit.retention_days"),
        ('tracing={exporter="jaeger"}', "tracing.exporter"),
        ('tracing={exporter="stackdriver"}', "tracing.exporter must be none, otlp (a collector) or gcp"),
        ('tracing={exporter="otlp"}', "tracing.otlp_endpoint"),
        ('tracing={exporter="otlp", otlp_endpoint="otel:4318"}', "tracing.otlp_endpoint"),
        ('tracing={service_name="has spaces"}', "tracing.service_name"),
        ('tracing={sampler="sometimes"}', "tracing.sampler"),
        ("tracing={sample_ratio=1.5}", "tracing.sample_ratio"),
    ],
)
def test_bad_values_are_refused_by_validation(terraform_workspace: Workspace, variable, needle):
    with pytest.raises(TerraformFailed) as caught:
        terraform_workspace.plan(variables=[variable])
    assert needle in str(caught.value)
