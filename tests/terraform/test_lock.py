"""requirements/dev.txt pins, with hashes, exactly what pyproject.toml declares, and installs as the test build does."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests._fixtures.terraform import ROOT

_spec = importlib.util.spec_from_file_location("mcp_auth_scripts_lock", ROOT / "scripts" / "lock.py")
assert _spec is not None and _spec.loader is not None
lock = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = lock  # its dataclasses look their module up by name
_spec.loader.exec_module(lock)

PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements" / "dev.txt"

#: The test build's install step (cloudbuild.test.yaml runs these, test_cloudbuild.py checks it does).
INSTALL_LOCKED = ["-m", "pip", "install", "--require-hashes", "--only-binary=:all:", "-r", "requirements/dev.txt"]
INSTALL_PROJECT = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", "."]


def _first_dependency() -> str:
    return tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"][0]


def _pinned(name: str) -> str:
    return next(p.version for p in lock.parse_lock(LOCK.read_text()) if p.name == name)


def _pyproject_with(tmp_path: Path, old: str, new: str) -> Path:
    text = PYPROJECT.read_text()
    assert old in text
    changed = tmp_path / "pyproject.toml"
    changed.write_text(text.replace(old, new, 1))
    return changed


def test_lock_pins_every_declared_requirement_once_with_hashes_satisfying_its_specifier() -> None:
    assert lock.disagreements(PYPROJECT, LOCK.read_text()) == []


def test_declared_requirements_are_the_runtime_every_extra_and_the_build_backend() -> None:
    doc = tomllib.loads(PYPROJECT.read_text())
    runtime, build = lock.declared(PYPROJECT)
    assert set(runtime) == set(doc["project"]["dependencies"]).union(*doc["project"]["optional-dependencies"].values())
    assert build == doc["build-system"]["requires"] and build
    locked = {p.name for p in lock.parse_lock(LOCK.read_text())}
    assert {"setuptools", "pytest", "ruff", "functions-framework", "opentelemetry-sdk"} <= locked


def test_lock_says_how_to_regenerate_it() -> None:
    head = LOCK.read_text().split("\n\n")[0]
    assert "make lock" in head and "--require-hashes" in head
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lock:\n(\t.*\n)*\t@\.venv/bin/python scripts/lock\.py$", makefile, re.M)


def test_a_specifier_the_pinned_version_does_not_satisfy_is_reported(tmp_path: Path) -> None:
    dependency = _first_dependency()
    name = re.match(r"[A-Za-z0-9._-]+", dependency)[0]  # type: ignore[index]
    pinned = _pinned(name)
    changed = _pyproject_with(tmp_path, f'"{dependency}"', f'"{name}!={pinned}"')
    assert lock.disagreements(changed, LOCK.read_text()) == [f"{name}!={pinned}: the lock pins {pinned}"]


def test_a_requirement_missing_from_the_lock_is_reported(tmp_path: Path) -> None:
    changed = _pyproject_with(tmp_path, "dependencies = [", 'dependencies = [\n    "not-in-the-lock>=1",')
    problems = lock.disagreements(changed, LOCK.read_text())
    assert problems == ["not-in-the-lock>=1: 0 entries in the lock, want exactly one"]


def test_a_requirement_dropped_from_pyproject_but_still_locked_is_reported(tmp_path: Path) -> None:
    dependency = _first_dependency()
    changed = _pyproject_with(tmp_path, f'    "{dependency}",\n', "")
    name = re.match(r"[A-Za-z0-9._-]+", dependency)[0]  # type: ignore[index]
    assert lock.disagreements(changed, LOCK.read_text()) == [
        f"{name}: pinned as a direct requirement that pyproject.toml does not declare"
    ]


def test_an_entry_without_hashes_is_reported() -> None:
    text = LOCK.read_text()
    pin = next(p for p in lock.parse_lock(text) if p.name == "httpx")
    stripped = re.sub(rf"(?m)^(httpx=={re.escape(pin.version)}) \\\n(    --hash=\S+(?: \\)?\n)+", r"\1\n", text)
    assert stripped != text
    assert lock.disagreements(PYPROJECT, stripped) == [f"httpx=={pin.version} has no --hash"]


def test_a_pin_limited_to_some_platforms_does_not_satisfy_an_unconditional_requirement() -> None:
    text = LOCK.read_text()
    version = _pinned("httpx")
    narrowed = text.replace(f"httpx=={version} \\", f"httpx=={version} ; sys_platform == 'win32' \\", 1)
    assert narrowed != text
    [problem] = lock.disagreements(PYPROJECT, narrowed)
    assert problem.startswith("httpx==") and problem.endswith('only where sys_platform == "win32"')


def test_lock_check_command_exits_zero_when_they_agree() -> None:
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "lock.py", "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_lock_installs_with_hashes_required_and_the_project_without_dependencies(tmp_path: Path) -> None:
    """The test build's install, for real: pip resolves nothing itself (every file is hash-checked,
    every dependency must be in the lock), builds nothing from source, and the result is consistent."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "lib", src / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, src / name)
    (src / "requirements").mkdir()
    shutil.copyfile(LOCK, src / "requirements" / "dev.txt")
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"

    def run(*args: str | Path) -> str:
        result = subprocess.run([python, *args], cwd=src, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result.stdout

    run(*INSTALL_LOCKED)
    run(*INSTALL_PROJECT)
    assert "No broken requirements found" in run("-m", "pip", "check")
    run("-c", "import mcp, functions_framework, google.cloud.firestore, jwt, pytest, ruff, opentelemetry.sdk")
    # The project is installed (editable, from lib/) without importing it: its own tests do that.
    where = run(
        "-c",
        "import importlib.metadata as m, importlib.util as u; print(m.version('mcp-auth-server'));"
        " print(u.find_spec('mcp_auth').origin)",
    )
    assert where.split() == [
        tomllib.loads(PYPROJECT.read_text())["project"]["version"],
        str(src / "lib" / "mcp_auth" / "__init__.py"),
    ]
    assert (tmp_path / "venv" / "bin" / "mcp-auth").is_file()
