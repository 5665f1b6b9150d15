"""The test suite's Node projects install with `npm ci`, which takes only a lock file that matches
package.json exactly (every optional platform package of every dependency included). npm itself
checks each lock here, offline and without installing (`npm ci --dry-run --offline` on a copy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.services  # runs npm, which make test-fast does not ask for

ROOT = Path(__file__).resolve().parents[1]
NODE_PROJECTS = ("tests/interop", "tests/oidc")


def _npm_ci_dry_run(project: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm was not found on PATH: the test suite needs Node.js 20+ with npm (scripts/preflight.sh test)")
    copy = workdir / "project"
    copy.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(project / name, copy / name)
    env = {**os.environ, "npm_config_cache": str(workdir / "npm-cache"), "npm_config_update_notifier": "false"}
    return subprocess.run(
        [npm, "ci", "--dry-run", "--offline", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=copy,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("project", NODE_PROJECTS)
def test_npm_ci_accepts_the_lock_file(project, tmp_path):
    done = _npm_ci_dry_run(ROOT / project, tmp_path)
    assert done.returncode == 0, f"npm ci refuses {project}/package-lock.json:\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("project", NODE_PROJECTS)
def test_the_lock_pins_exactly_what_package_json_names(project):
    manifest = json.loads((ROOT / project / "package.json").read_text())
    lock = json.loads((ROOT / project / "package-lock.json").read_text())
    assert lock["lockfileVersion"] == 3
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    for name, spec in manifest["dependencies"].items():
        version = spec.rsplit("@", 1)[-1] if spec.startswith("npm:") else spec
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def test_a_lock_missing_an_optional_platform_package_is_refused(tmp_path):
    """The check can fail: the interop lock without a Windows-only optional package one of its
    dependencies names (the state that once made the suite fall back to `npm install`)."""
    project = tmp_path / "broken"
    project.mkdir()
    shutil.copyfile(ROOT / "tests/interop/package.json", project / "package.json")
    lock = json.loads((ROOT / "tests/interop/package-lock.json").read_text())
    optional = [
        path
        for path, entry in lock["packages"].items()
        if path and entry.get("optional") and entry.get("os") == ["win32"]
    ]
    assert optional, "expected a Windows-only optional package in the interop lock"
    del lock["packages"][optional[0]]
    (project / "package-lock.json").write_text(json.dumps(lock, indent=2))
    workdir = tmp_path / "work"
    workdir.mkdir()
    done = _npm_ci_dry_run(project, workdir)
    assert done.returncode != 0
    assert "Missing:" in done.stderr and "from lock file" in done.stderr
