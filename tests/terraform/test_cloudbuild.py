"""cloudbuild.yaml: the documented steps, in order, each with its local equivalent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests._fixtures.terraform import ROOT, Workspace

CLOUDBUILD = ROOT / "cloudbuild.yaml"


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    return yaml.safe_load(CLOUDBUILD.read_text())


def _script(step: dict[str, Any]) -> str:
    return "\n".join(step.get("args", []))


def test_steps_are_install_lint_test_package_deploy(pipeline: dict[str, Any]) -> None:
    assert [s["id"] for s in pipeline["steps"]] == ["install", "lint", "test", "package", "deploy"]


def test_each_step_runs_the_command_developers_run_locally(pipeline: dict[str, Any]) -> None:
    steps = {s["id"]: _script(s) for s in pipeline["steps"]}
    assert "scripts/bootstrap.sh" in steps["install"]
    assert "make lint" in steps["lint"]
    assert "make test" in steps["test"]
    assert "scripts/package.py" in steps["package"]
    assert "terraform -chdir=terraform apply" in steps["deploy"]
    for command in ("scripts/bootstrap.sh", "scripts/package.py"):
        assert (ROOT / command).is_file()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lint:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_every_substitution_used_is_declared(pipeline: dict[str, Any]) -> None:
    used = set(re.findall(r"\$\{(_[A-Z_]+)\}", CLOUDBUILD.read_text()))
    assert used <= set(pipeline["substitutions"]), used - set(pipeline["substitutions"])


def test_trigger_substitutions_are_the_ones_the_pipeline_declares(
    terraform_plan: dict[str, Any], pipeline: dict[str, Any]
) -> None:
    trigger = next(
        r
        for r in terraform_plan["planned_values"]["root_module"]["resources"]
        if r["type"] == "google_cloudbuild_trigger"
    )
    assert set(trigger["values"]["substitutions"]) <= set(pipeline["substitutions"])
    assert (ROOT / trigger["values"]["substitutions"]["_TFVARS"]).is_file()


def test_package_step_writes_where_terraform_reads_the_archive(pipeline: dict[str, Any]) -> None:
    package_step = next(s for s in pipeline["steps"] if s["id"] == "package")
    storage = (ROOT / "terraform" / "storage.tf").read_text()
    assert "build/function-source.zip" in _script(package_step)
    assert '"${path.module}/../build/function-source.zip"' in storage


def test_deploy_applies_the_configuration_the_tests_plan(terraform_workspace: Workspace) -> None:
    # The test command plans exactly terraform/ with the same tfvars the trigger passes.
    assert sorted(p.name for p in (ROOT / "terraform").glob("*.tf")) == sorted(
        p.name for p in Path(terraform_workspace.path).glob("*.tf")
    )
