"""Small readers for ``terraform show -json`` plans."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: The function in var.region; the function in each of var.regions is keyed by its region.
FUNCTION = "google_cloudfunctions2_function.server"
PRIMARY_FUNCTION = f'{FUNCTION}["primary"]'
#: The load balancer and its Cloud Armor policy (terraform/modules/edge), when a domain is set.
EDGE = "module.edge[0]"


def planned_resources(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every resource in the planned values, through child modules."""
    stack = [plan["planned_values"]["root_module"]]
    while stack:
        module = stack.pop()
        yield from module.get("resources", [])
        stack.extend(module.get("child_modules", []))


def of_type(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in planned_resources(plan) if r["type"] == type_]


def one(plan: dict[str, Any], address: str) -> dict[str, Any]:
    found = [r for r in planned_resources(plan) if r["address"] == address]
    assert len(found) == 1, f"{address} is not planned exactly once (found {len(found)})"
    return found[0]


def config_address(address: str) -> str:
    """The configuration address of a planned resource: its address without instance keys."""
    return re.sub(r"\[[^\]]*\]", "", address)


def config_resource(plan: dict[str, Any], address: str) -> dict[str, Any]:
    """The configuration (expressions, references) behind a resource address without instance
    keys, through module calls (``module.edge.google_compute_url_map.https``)."""
    stack = [("", plan["configuration"]["root_module"])]
    while stack:
        prefix, module = stack.pop()
        for resource in module.get("resources", []):
            if prefix + resource["address"] == address:
                return resource
        calls = module.get("module_calls", {})
        stack.extend((f"{prefix}module.{name}.", call["module"]) for name, call in calls.items())
    raise AssertionError(f"{address} is not in the configuration")


def references(plan: dict[str, Any], address: str, argument: str) -> list[str]:
    """What an argument's expression refers to, as written (addresses relative to its module)."""
    return config_resource(plan, address)["expressions"].get(argument, {}).get("references", [])


def function_env(plan: dict[str, Any], address: str = PRIMARY_FUNCTION) -> dict[str, str]:
    """The environment a planned function runs with (var.region's unless told)."""
    return one(plan, address)["values"]["service_config"][0]["environment_variables"]
