"""Terraform working copies, initialised offline, and the plan of the example team tfvars.

The toolchain (embedded Terraform, schema-only providers, checkov) is installed on first use
by ``tests/terraform/toolchain.py``; later sessions reuse it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import toolchain

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
EXAMPLE_TFVARS = "examples/team.tfvars"

# scripts/package.py builds the archive Terraform uploads; load it without putting scripts/ on sys.path.
_spec = importlib.util.spec_from_file_location("mcp_auth_scripts_package", ROOT / "scripts" / "package.py")
assert _spec is not None and _spec.loader is not None
package = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(package)


class TerraformFailed(AssertionError):
    pass


@dataclass(frozen=True)
class Workspace:
    """A copy of terraform/ with ``init`` done and a freshly built source archive."""

    path: Path
    archive: Path

    def run(self, *args: str, check: bool = True) -> toolchain.Result:
        result = toolchain.terraform([f"-chdir={self.path}", *args, "-no-color"])
        if check and result.returncode != 0:
            raise TerraformFailed(f"terraform {' '.join(args)} failed:\n{result.output[-6000:]}")
        return result

    def plan(self, *, var_file: str = EXAMPLE_TFVARS, variables: Sequence[str] = ()) -> dict[str, Any]:
        """Plan with the given tfvars (and ``-var`` overrides); the plan as ``show -json`` prints it."""
        key = hashlib.sha256(json.dumps([var_file, *variables]).encode()).hexdigest()[:12]
        out = self.path / f"plan-{key}.bin"
        args = ["plan", "-input=false", "-lock=false", f"-var-file={var_file}", f"-out={out}"]
        args += [f"-var=source_archive={self.archive}"] + [f"-var={v}" for v in variables]
        self.run(*args)
        return json.loads(self.run("show", "-json", str(out)).stdout)


def make_workspace(dest: Path) -> Workspace:
    path = toolchain.copy_config(TERRAFORM_DIR, dest / "terraform")
    archive = package.build(dest / "function-source.zip")
    workspace = Workspace(path=path, archive=archive)
    workspace.run("init", "-backend=false", "-input=false")
    return workspace


@pytest.fixture(scope="session")
def terraform_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("terraform"))


@pytest.fixture(scope="session")
def terraform_plan(terraform_workspace: Workspace) -> dict[str, Any]:
    """The plan of examples/team.tfvars, as JSON."""
    return terraform_workspace.plan()
