"""scripts/bootstrap.sh: .venv from the hash-locked requirements, per mode, again only when its inputs change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._fixtures.terraform import ROOT

SOURCES = ("scripts/bootstrap.sh", "scripts/lock.py", "pyproject.toml", "README.md", "LICENSE")


def _checkout(dest: Path) -> Path:
    """The files bootstrap reads, copied as a fresh clone has them (no .venv)."""
    for rel in SOURCES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    shutil.copytree(ROOT / "requirements", dest / "requirements")
    shutil.copytree(ROOT / "lib", dest / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    return dest


def _bootstrap(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": getattr(sys, "_base_executable", sys.executable)}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [checkout / "scripts" / "bootstrap.sh", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )


def test_an_unknown_mode_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    result = _bootstrap(checkout, "prod")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown mode 'prod' (use: scripts/bootstrap.sh [dev|runtime])"
    assert not (checkout / ".venv").exists()


def test_a_missing_lock_says_how_to_make_it(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    (checkout / "requirements" / "runtime.txt").unlink()
    result = _bootstrap(checkout, "runtime")
    assert result.returncode == 1
    assert "requirements/runtime.txt is missing: run 'make lock'" in result.stderr
    assert not (checkout / ".venv").exists()


@pytest.fixture(scope="module")
def runtime_checkout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    checkout = _checkout(tmp_path_factory.mktemp("clone"))
    return checkout, _bootstrap(checkout, "runtime")


def test_runtime_mode_installs_the_runtime_lock_and_the_framework_from_lib(
    runtime_checkout: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    checkout, result = runtime_checkout
    assert result.returncode == 0, result.stderr[-3000:]
    # Each long step is announced before it starts.
    assert "bootstrap: installing the runtime packages from requirements/runtime.txt requirements/build.txt" in (
        result.stderr
    )
    assert "bootstrap: installing the template and the framework (lib/, editable)" in result.stderr
    python = checkout / ".venv" / "bin" / "python"
    probe = (
        "import importlib.metadata as m, importlib.util as u;"
        "print(u.find_spec('mcp_auth').origin, m.version('mcp-auth-cloudrun'), u.find_spec('pytest') is None)"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, cwd="/").stdout.split()
    assert found == [str(checkout / "lib" / "mcp_auth" / "__init__.py"), "0.2.0", "True"]  # no test tools
    assert (checkout / ".venv" / "bin" / "mcp-auth").is_file()
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout


def test_runtime_mode_runs_again_only_when_its_inputs_change(
    runtime_checkout: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    checkout, first = runtime_checkout
    assert first.returncode == 0, first.stderr[-3000:]
    again = _bootstrap(checkout, "runtime")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    with (checkout / "lib" / "pyproject.toml").open("a") as f:
        f.write("# changed\n")
    changed = _bootstrap(checkout, "runtime")
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert "bootstrap: installing the runtime packages" in changed.stderr
    assert (checkout / ".venv" / ".installed-runtime").is_file()
    # A dependency added without `make lock`: a warning naming it and what to run, and no stamp.
    text = (checkout / "lib" / "pyproject.toml").read_text()
    (checkout / "lib" / "pyproject.toml").write_text(
        text.replace("dependencies = [", 'dependencies = [\n    "not-in-the-lock>=1",', 1)
    )
    drifted = _bootstrap(checkout, "runtime")
    assert drifted.returncode == 0, drifted.stderr[-3000:]
    assert "bootstrap: warning: the locks disagree with what they are made from; run 'make lock':" in drifted.stderr
    assert "requirements/runtime.txt: not-in-the-lock>=1: 0 entries in the lock, want exactly one" in drifted.stderr
    assert not (checkout / ".venv" / ".installed-runtime").exists()
