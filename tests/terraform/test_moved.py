"""An upgrade from an earlier layout moves every object to its new address: nothing is destroyed.

``PREVIOUS_LAYOUT`` lists the addresses the earlier layout planned for the example with a
custom domain in three regions, where they differ from today's, each with the values that
identify its cloud object (name, region). The test writes a state holding exactly those
objects (every other attribute empty) and plans the current configuration from it, offline:
Terraform applies the ``moved`` blocks (terraform/moved.tf) to that state as it would to a
real one, so the plan shows where each object went. It must show each of them at an address
the current layout plans anyway, as the same object (same identifying values), changed in
place at most, and nothing destroyed.

What this cannot show offline: whether the real provider would replace an object on an
in-place change (the stand-in never asks for replacement). The identifying values kept
equal here are the ones a change of which would make the real provider replace the object.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests._fixtures.terraform import EDGE_COMBINATIONS, TERRAFORM_DIR, Workspace
from tests.terraform import toolchain

pytestmark = pytest.mark.skipif(
    toolchain.REAL_PROVIDERS, reason="builds its made-up state from the schema the stand-in providers serve"
)

COMBINATION = "domain+3regions+cmek"

#: Address in the earlier layout -> the values that identify its object.
PREVIOUS_LAYOUT: dict[str, dict[str, Any]] = {
    # function.tf and regions.tf: one resource for var.region, one for var.regions.
    "google_cloudfunctions2_function.this": {"name": "acme-mcp", "location": "europe-west1"},
    'google_cloudfunctions2_function.extra["us-central1"]': {"name": "acme-mcp", "location": "us-central1"},
    'google_cloudfunctions2_function.extra["asia-northeast1"]': {"name": "acme-mcp", "location": "asia-northeast1"},
    "google_cloud_run_v2_service_iam_member.public_invoker[0]": {"location": "europe-west1", "member": "allUsers"},
    'google_cloud_run_v2_service_iam_member.public_invoker_extra["us-central1"]': {
        "location": "us-central1",
        "member": "allUsers",
    },
    'google_cloud_run_v2_service_iam_member.public_invoker_extra["asia-northeast1"]': {
        "location": "asia-northeast1",
        "member": "allUsers",
    },
    # lb.tf and armor.tf: the load balancer and its Cloud Armor policy in the root module, with count.
    "google_compute_global_address.this[0]": {"name": "acme-mcp-lb"},
    "google_compute_managed_ssl_certificate.this[0]": {"name": "acme-mcp-3efc6096"},
    "google_compute_ssl_policy.this[0]": {"name": "acme-mcp-tls12"},
    "google_compute_url_map.https[0]": {"name": "acme-mcp-https"},
    "google_compute_target_https_proxy.this[0]": {"name": "acme-mcp-https"},
    "google_compute_global_forwarding_rule.https[0]": {"name": "acme-mcp-https", "port_range": "443"},
    "google_compute_url_map.redirect[0]": {"name": "acme-mcp-redirect"},
    "google_compute_target_http_proxy.redirect[0]": {"name": "acme-mcp-redirect"},
    "google_compute_global_forwarding_rule.http[0]": {"name": "acme-mcp-http", "port_range": "80"},
    'google_compute_region_network_endpoint_group.function["europe-west1"]': {
        "name": "acme-mcp-europe-west1",
        "region": "europe-west1",
    },
    'google_compute_region_network_endpoint_group.function["us-central1"]': {
        "name": "acme-mcp-us-central1",
        "region": "us-central1",
    },
    'google_compute_region_network_endpoint_group.function["asia-northeast1"]': {
        "name": "acme-mcp-asia-northeast1",
        "region": "asia-northeast1",
    },
    "google_compute_backend_service.function[0]": {"name": "acme-mcp-function"},
    "google_compute_security_policy.this[0]": {"name": "acme-mcp-armor"},
}

_MOVED = re.compile(r"^moved \{\n\s+from\s+=\s+(?P<from>\S+)\n\s+to\s+=\s+(?P<to>\S+)\n\}", re.M)
_ADDRESS = re.compile(r"^(?P<type>[a-z0-9_]+)\.(?P<name>[a-z0-9_]+)(?:\[(?P<key>\d+|\"[^\"]+\")\])?$")


def moved_blocks() -> list[tuple[str, str]]:
    """(from, to) of every moved block in terraform/, as written."""
    return [
        (m["from"], m["to"]) for path in sorted(TERRAFORM_DIR.rglob("*.tf")) for m in _MOVED.finditer(path.read_text())
    ]


def _empty(block: dict[str, Any]) -> dict[str, Any]:
    """An object of the schema's shape with every attribute null and every nested block absent."""
    value: dict[str, Any] = dict.fromkeys(block.get("attributes", {}))
    for name, spec in block.get("block_types", {}).items():
        value[name] = {"list": [], "set": [], "map": {}}.get(spec["nesting_mode"])
    return value


def previous_state(path: Path) -> Path:
    """A state file holding ``PREVIOUS_LAYOUT``'s objects at their earlier addresses."""
    schema = json.loads(toolchain.schema_path(toolchain.PROVIDER_PACKAGES["google"]).read_text())
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for address, identity in PREVIOUS_LAYOUT.items():
        match = _ADDRESS.match(address)
        assert match, address
        type_schema = schema["resource_schemas"][match["type"]]
        resource = resources.setdefault(
            (match["type"], match["name"]),
            {
                "mode": "managed",
                "type": match["type"],
                "name": match["name"],
                "provider": 'provider["registry.terraform.io/hashicorp/google"]',
                "instances": [],
            },
        )
        instance: dict[str, Any] = {
            "schema_version": type_schema.get("version", 0),
            "attributes": {**_empty(type_schema["block"]), **identity},
            "sensitive_attributes": [],
        }
        if match["key"] is not None:
            instance["index_key"] = json.loads(match["key"])
        resource["instances"].append(instance)
    state = {
        "version": 4,
        "terraform_version": "1.6.0",
        "serial": 1,
        "lineage": "00000000-0000-0000-0000-000000000000",
        "outputs": {},
        "resources": list(resources.values()),
    }
    path.write_text(json.dumps(state))
    return path


@pytest.fixture(scope="module")
def upgrade_plan(terraform_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    state = previous_state(tmp_path_factory.mktemp("previous") / "terraform.tfstate")
    return terraform_workspace.plan(variables=EDGE_COMBINATIONS[COMBINATION], state=state)


def test_every_object_of_the_previous_layout_moves_to_the_same_object_in_place(upgrade_plan: dict[str, Any]) -> None:
    moved = {c["previous_address"]: c for c in upgrade_plan["resource_changes"] if c.get("previous_address")}
    assert set(moved) == set(PREVIOUS_LAYOUT), "objects left at an earlier address are destroyed and created anew"
    for previous, change in moved.items():
        assert change["change"]["actions"] in (["no-op"], ["update"]), (previous, change["change"]["actions"])
        after = {k: change["change"]["after"][k] for k in PREVIOUS_LAYOUT[previous]}
        assert after == PREVIOUS_LAYOUT[previous], f"{previous} moved to {change['address']}, another object"


def test_an_upgrade_destroys_nothing_and_plans_what_a_new_deployment_plans(
    upgrade_plan: dict[str, Any], edge_plans: dict[str, dict[str, Any]]
) -> None:
    destroyed = [c["address"] for c in upgrade_plan["resource_changes"] if "delete" in c["change"]["actions"]]
    assert destroyed == []
    fresh = {c["address"] for c in edge_plans[COMBINATION]["resource_changes"]}
    assert {c["address"] for c in upgrade_plan["resource_changes"]} == fresh


def test_every_moved_block_moves_an_address_of_the_previous_layout_to_one_planned_now(
    upgrade_plan: dict[str, Any],
) -> None:
    """No moved block is stale or mistyped: each one moves something in the upgrade plan."""
    blocks = moved_blocks()
    assert blocks, "no moved blocks found in terraform/"
    changes = upgrade_plan["resource_changes"]
    moves = {(c["previous_address"], c["address"]) for c in changes if c.get("previous_address")}
    for source, target in blocks:
        used = [
            (old, new)
            for old, new in moves
            if (old, new) == (source, target) or (old.startswith(f"{source}[") and new == target + old[len(source) :])
        ]
        assert used, f"moved {{ from = {source}, to = {target} }} moves nothing the previous layout had"
