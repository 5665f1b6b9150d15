"""Terraform working copies, initialised offline, and the plan of the example team tfvars.

The toolchain (embedded Terraform, schema-only providers, checkov) is installed on first use
by ``tests/terraform/toolchain.py``; later sessions reuse it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import venv
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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

    def plan(
        self, *, var_file: str = EXAMPLE_TFVARS, variables: Sequence[str] = (), state: Path | None = None
    ) -> dict[str, Any]:
        """Plan with the given tfvars (and ``-var`` overrides), from the state file ``state`` when
        given (read, not refreshed, never written); the plan as ``show -json`` prints it."""
        key = hashlib.sha256(json.dumps([var_file, *variables, str(state)]).encode()).hexdigest()[:12]
        out = self.path / f"plan-{key}.bin"
        args = ["plan", "-input=false", "-lock=false", f"-var-file={var_file}", f"-out={out}"]
        args += [f"-var=source_archive={self.archive}"] + [f"-var={v}" for v in variables]
        if state is not None:
            args += [f"-state={state}", "-refresh=false"]
        self.run(*args)
        return json.loads(self.run("show", "-json", str(out)).stdout)


STORE_INDEXES = Path("lib/mcp_auth/store/indexes.json")  # read by terraform/firestore.tf through ../


def make_workspace(dest: Path) -> Workspace:
    path = toolchain.copy_config(TERRAFORM_DIR, dest / "terraform")
    (dest / STORE_INDEXES).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TERRAFORM_DIR.parent / STORE_INDEXES, dest / STORE_INDEXES)
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


#: Edge combinations planned once per session (each plan takes seconds, so not the full product):
#: everything off is the example plan (``terraform_plan``); ``domain`` = custom domain in one
#: region; ``domain+3regions+cmek`` = custom domain, three regions and CMEK; ``cmek`` = CMEK
#: without a domain.
EDGE_DOMAIN = "mcp.acme.example"
EDGE_EXTRA_REGIONS = ["us-central1", "asia-northeast1"]
EDGE_COMBINATIONS = {
    "domain": [f"domain={EDGE_DOMAIN}"],
    "domain+3regions+cmek": [
        f"domain={EDGE_DOMAIN}",
        f"regions={json.dumps(EDGE_EXTRA_REGIONS)}",
        "cmek={enabled=true}",
    ],
    "cmek": ["cmek={enabled=true}"],
}


@pytest.fixture(scope="session")
def edge_plans(terraform_workspace: Workspace) -> dict[str, dict[str, Any]]:
    """The plan of the example with each of ``EDGE_COMBINATIONS``, as JSON."""
    return {name: terraform_workspace.plan(variables=variables) for name, variables in EDGE_COMBINATIONS.items()}


@dataclass(frozen=True)
class PackagedFunction:
    """The source archive, installed like the Python buildpack does and served on loopback."""

    url: str
    token: str
    user: str
    app_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(
                f"The packaged function exited with code {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"The packaged function did not answer {url}:\n{log.read_text()[-4000:]}")


@dataclass(frozen=True)
class PackagedInstall:
    app_dir: Path
    bin_dir: Path


#: How the buildpack installs the unpacked archive; every file is checked against its hash.
PACKAGED_INSTALL = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes"]
PACKAGED_INSTALL += ["-r", "requirements.txt"]

_packaged: dict[str, PackagedInstall] = {}
_packaged_lock = threading.Lock()


#: Packaged installs, one per archive content, shared by the suite's workers and by later runs.
PACKAGED_ROOT = Path(tempfile.gettempdir()) / "mcp-auth-packaged"
_STALE_AFTER = 3600  # seconds: an install of other sources unused this long is removed


def prepare_packaged_install(wheel: str = "archive") -> PackagedInstall:
    """The packaged install of today's sources (the warm-up thread starts it early; the fixture waits).

    ``wheel="archive"`` installs the archive as scripts/package.py builds it; ``wheel="build"``
    swaps the archive's framework wheel for the one ``python -m build lib`` makes, so that wheel,
    its dependencies from the runtime lock and the template's functions/ are all the venv holds.

    The install is keyed by the archive's bytes and made under a file lock: the workers of a
    parallel run (and a later run of the same sources) use one install instead of making their own.
    """
    with _packaged_lock:
        if wheel not in _packaged:
            _packaged[wheel] = _shared_install(wheel)
        return _packaged[wheel]


def _shared_install(wheel: str) -> PackagedInstall:
    staging = Path(tempfile.mkdtemp(prefix="mcp-auth-archive-"))
    try:
        key = hashlib.sha256(package.build(staging / "function-source.zip").read_bytes()).hexdigest()[:16]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    PACKAGED_ROOT.mkdir(exist_ok=True)
    base = PACKAGED_ROOT / f"{wheel}-{key}"
    with (PACKAGED_ROOT / f"{wheel}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = base / ".installed"
        if not done.exists():
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir()
            install = _install_package(base, wheel)
            done.touch()
        else:
            install = PackagedInstall(app_dir=base / "workspace", bin_dir=base / "venv" / "bin")
        os.utime(done)
        for old in PACKAGED_ROOT.glob(f"{wheel}-*"):
            stamp = old / ".installed"
            if old != base and (not stamp.exists() or time.time() - stamp.stat().st_mtime > _STALE_AFTER):
                shutil.rmtree(old, ignore_errors=True)
    return install


@pytest.fixture(scope="session")
def packaged_install() -> PackagedInstall:
    return prepare_packaged_install()


def build_framework_wheel(dest: Path) -> Path:
    """``python -m build --wheel lib`` (the build backend from the locked environment, no download).

    It builds a copy of lib/: setuptools writes build/ and egg-info beside the sources it builds,
    and the checkout is shared with the tests that read lib/ and with the other workers."""
    source = Path(tempfile.mkdtemp(prefix="mcp-auth-lib-"))
    shutil.copytree(  # follows lib/LICENSE, a link to the repository's LICENSE
        ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dest, source / "lib"],
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(source, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(f"python -m build lib failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    [wheel] = dest.glob("*.whl")
    return wheel


def _use_built_wheel(app_dir: Path, base: Path) -> None:
    """Replace the archive's framework wheel (and its hash line) with the one the build backend makes."""
    built = build_framework_wheel(base / "dist")
    [vendored] = (app_dir / package.VENDOR).glob("*.whl")
    if built.name != vendored.name:
        raise RuntimeError(f"python -m build made {built.name}, scripts/package.py {vendored.name}")
    vendored.unlink()
    shutil.copyfile(built, app_dir / package.VENDOR / built.name)
    requirements = app_dir / "requirements.txt"
    digest = hashlib.sha256(built.read_bytes()).hexdigest()
    text, count = re.subn(
        r"(?m)^(\./vendor/\S+\.whl \\\n    --hash=sha256:)[0-9a-f]{64}$", rf"\g<1>{digest}", requirements.read_text()
    )
    if count != 1:
        raise RuntimeError("requirements.txt has no line for the framework's wheel")
    requirements.write_text(text)


def _install_package(base: Path, wheel: str) -> PackagedInstall:
    """The archive unpacked and installed the way the Python buildpack does it: a fresh
    environment and `pip install -r requirements.txt` (hash-checked) in the unpacked source."""
    archive = package.build(base / "function-source.zip")
    app_dir = base / "workspace"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(app_dir)
    if wheel == "build":
        _use_built_wheel(app_dir, base)
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    install = subprocess.run(
        [base / "venv" / "bin" / "python", *PACKAGED_INSTALL],
        cwd=app_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:
        raise RuntimeError(
            f"pip install --require-hashes -r requirements.txt failed:\n{install.stdout}{install.stderr}"
        )
    return PackagedInstall(app_dir=app_dir, bin_dir=base / "venv" / "bin")


@contextmanager
def serve_packaged(install: PackagedInstall, emulator: Any, project: str) -> Iterator[PackagedFunction]:
    """An installed archive served by functions-framework, against the emulator (its own project).

    The operator's commands (users create, token mint) run with the `mcp-auth` the install holds."""
    app_dir, base = install.app_dir, install.app_dir.parent
    port = _free_port()
    user = "packaged-user"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(base)),
        "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "MCP_AUTH_RESOURCE_URL": f"http://127.0.0.1:{port}/mcp",
        "MCP_AUTH_PROVIDERS": "jwt",
        "MCP_AUTH_JWT_ISSUER": f"http://127.0.0.1:{port}/test-issuer",
        "MCP_AUTH_JWT_HS256_KEY": secrets.token_urlsafe(48),
        "MCP_AUTH_FIRST_LOGIN": "reject",
        "FUNCTION_TARGET": "mcp",
    }
    cli = install.bin_dir / "mcp-auth"
    # The operator's command line finds the team's factory in the unpacked source, as `PYTHONPATH=functions` does.
    cli_env = {**env, "PYTHONPATH": str(app_dir)}
    server: subprocess.Popen[bytes] | None = None
    log = base / f"function-{os.getpid()}-{port}.log"  # the install is shared: one log per server
    try:
        seeded = subprocess.run(
            [cli, "users", "create", user, "--toolsets", "basics", "--scopes", "mcp:tools"],
            env=cli_env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert seeded.returncode == 0, seeded.stderr
        minted = subprocess.run(
            [cli, "token", "mint", "--user", user], env=cli_env, capture_output=True, text=True, check=False
        )
        assert minted.returncode == 0, minted.stderr
        with open(log, "wb") as out:
            server = subprocess.Popen(  # the buildpack's entrypoint: functions-framework --target=$FUNCTION_TARGET
                [
                    install.bin_dir / "functions-framework",
                    "--target",
                    "mcp",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=app_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", server, log)
        yield PackagedFunction(
            url=env["MCP_AUTH_RESOURCE_URL"], token=minted.stdout.strip(), user=user, app_dir=app_dir
        )
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def packaged_function(packaged_install: PackagedInstall, firestore_emulator: Any) -> Iterator[PackagedFunction]:
    """The installed archive served by functions-framework, against the session's emulator (its own project)."""
    with serve_packaged(packaged_install, firestore_emulator, "demo-packaging") as function:
        yield function
