"""scripts/preflight.sh: the tools a target needs are checked before any install, and each missing
one gets a message that says what to install. Run for real: with this machine's PATH, and with a
PATH holding only the shell tools the script uses and Python (so Java, Node and the Google Cloud
CLI are missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "preflight.sh"
BASH = shutil.which("bash") or "/bin/bash"
#: What the script itself runs besides the checked tools.
SHELL_TOOLS = ("dirname", "sed", "awk", "head")
#: Where a Google Cloud CLI installed by a system package keeps its emulators (see find_launcher).
SDK_ROOTS = ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk")


def _preflight(*args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "MCP_AUTH_FIRESTORE_EMULATOR"}}
    if path is not None:
        environment["PATH"] = path
    environment.update(env)
    return subprocess.run(
        [BASH, str(SCRIPT), *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with the shell tools and a Python 3.11+ (this interpreter's base), and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in SHELL_TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is not on PATH"
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    return str(bin_dir)


@pytest.mark.parametrize(
    "mode",
    ["dev", "fast", pytest.param("test", marks=pytest.mark.services)],  # `test` needs Node too
)
def test_this_machine_has_everything_the_target_needs(mode):
    done = _preflight(mode)
    assert (done.returncode, done.stderr) == (0, "")


def test_without_java_and_node_each_gets_one_message_naming_the_install_command(bare_path):
    done = _preflight("test", path=bare_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    java = [line for line in lines if "Java 11 or newer" in line]
    node = [line for line in lines if "Node.js 20 or newer with npm" in line]
    assert len(java) == 1 and "sudo apt-get install default-jre-headless" in java[0]
    assert len(node) == 1 and "sudo apt-get install nodejs npm" in node[0]
    assert lines[-1] == "preflight: 'make test' needs the above first; nothing was installed."


def test_dev_does_not_ask_for_node(bare_path):
    done = _preflight("dev", path=bare_path)
    assert done.returncode == 1
    assert "Java 11 or newer" in done.stderr
    assert "Node.js" not in done.stderr
    assert "'make dev' needs the above first" in done.stderr


def test_a_missing_python_is_named_with_how_to_choose_another(bare_path):
    done = _preflight("dev", path=bare_path, PYTHON="python3-not-installed")
    assert done.returncode == 1
    assert "Python 3.11 or newer is needed and 'python3-not-installed' was not found" in done.stderr
    assert "PYTHON=python3.12 make dev" in done.stderr


def test_a_mode_it_does_not_know_is_a_usage_error():
    done = _preflight("deploy")
    assert done.returncode == 2
    assert "usage: scripts/preflight.sh dev|test|fast (got: 'deploy')" in done.stderr


def _can_hide_directories() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_hide_directories(), reason="needs unshare (a mount namespace) to hide the installed CLI")
def test_without_the_google_cloud_cli_the_message_says_how_to_install_it_with_the_emulator(bare_path, tmp_path):
    """The system's Cloud CLI directories are covered by empty ones in a mount namespace of this run only."""
    empty = tmp_path / "empty"
    empty.mkdir()
    mount = shutil.which("mount") or "mount"
    hide = "".join(f"{mount} --bind {empty} {root} && " for root in SDK_ROOTS if Path(root).is_dir())
    command = f"{hide}exec {BASH} {SCRIPT} dev"
    environment = {"PATH": bare_path, "HOME": str(tmp_path)}
    done = subprocess.run(
        [shutil.which("unshare") or "unshare", "-rm", BASH, "-c", command],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    emulator = [line for line in done.stderr.splitlines() if line.startswith("preflight: The Firestore emulator")]
    assert len(emulator) == 1, done.stderr
    assert "Google Cloud CLI ('gcloud') was not found" in emulator[0]
    assert "sudo apt-get install google-cloud-cli google-cloud-cli-firestore-emulator" in emulator[0]
