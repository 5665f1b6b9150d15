"""The schema-only provider: the schema it serves is the real one, and it never touches a cloud."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests._fixtures.terraform import Workspace, make_workspace
from tests.terraform import toolchain
from tests.terraform.plan_json import PRIMARY_FUNCTION, one

pytestmark = pytest.mark.skipif(toolchain.REAL_PROVIDERS, reason="checks the stand-in providers")


@pytest.fixture(scope="module")
def google_schema(terraform_workspace: Workspace) -> dict[str, Any]:
    return json.loads(toolchain.schema_path(toolchain.PROVIDER_PACKAGES["google"]).read_text())


def test_schema_keeps_required_optional_computed_and_block_shapes(google_schema: dict[str, Any]) -> None:
    function = google_schema["resource_schemas"]["google_cloudfunctions2_function"]["block"]
    assert function["attributes"]["name"] == {"required": True, "type": "string"}
    assert function["attributes"]["url"] == {"computed": True, "type": "string"}
    assert function["attributes"]["project"] == {"optional": True, "computed": True, "type": "string"}
    service = function["block_types"]["service_config"]
    assert (service["nesting_mode"], service.get("max_items")) == ("list", 1)
    assert service["block"]["attributes"]["environment_variables"]["type"] == ["map", "string"]
    assert function["block_types"]["timeouts"]["nesting_mode"] == "single"


def test_schema_has_the_provider_block_and_data_sources(google_schema: dict[str, Any]) -> None:
    assert google_schema["provider"]["block"]["attributes"]["project"]["optional"] is True
    assert "google_project" in google_schema["data_source_schemas"]
    assert len(google_schema["resource_schemas"]) > 1000


def test_plan_leaves_computed_values_unknown_down_nested_blocks(terraform_plan: dict[str, Any]) -> None:
    change = next(c for c in terraform_plan["resource_changes"] if c["address"] == PRIMARY_FUNCTION)
    assert change["change"]["after_unknown"]["url"] is True
    assert change["change"]["after_unknown"]["service_config"][0]["uri"] is True


def test_apply_is_refused_with_a_message_saying_why(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    for path in workspace.path.glob("*.tf"):
        if path.name != "versions.tf":
            path.unlink()
    (workspace.path / "zz_one.tf").write_text(
        'variable "project_id" {\n  type = string\n  default = "demo-project"\n}\n'
        'variable "region" {\n  type = string\n  default = "europe-west1"\n}\n'
        "locals {\n  labels = {}\n}\n"
        'resource "google_service_account" "one" {\n  account_id = "one-account"\n}\n'
    )
    result = workspace.run("apply", "-auto-approve", "-input=false", check=False)
    assert result.returncode != 0
    assert "schema-only stand-in" in " ".join(result.output.split())


def test_firestore_indexes_and_ttl_fields_listed_in_firestore_tf_are_planned(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    (workspace.path / "firestore_override.tf").write_text(
        "locals {\n"
        '  firestore_indexes = [{ collection = "audit", query_scope = "COLLECTION", fields = [\n'
        '    { field_path = "uid", order = "ASCENDING" }, { field_path = "at", order = "DESCENDING" }] }]\n'
        '  firestore_ttl_fields = [{ collection = "audit", field = "expires_at" }]\n'
        "}\n"
    )
    plan = workspace.plan()
    index = one(plan, 'google_firestore_index.this["audit:uid,at"]')["values"]
    assert [f["field_path"] for f in index["fields"]] == ["uid", "at"]
    ttl = one(plan, 'google_firestore_field.ttl["audit:expires_at"]')["values"]
    assert ttl["field"] == "expires_at" and ttl["ttl_config"] != []
