"""Regenerate requirements/dev.txt: every package the test build installs, pinned with its hashes.

The inputs are what pyproject.toml declares: [project].dependencies, every extra, and
[build-system].requires (the project is installed with --no-build-isolation, so its build
backend comes from the lock too). uv resolves them once for every platform and Python 3.11+
(--universal), with the hashes of every file of each pinned release.

    make lock                      (or: .venv/bin/python scripts/lock.py)
    .venv/bin/python scripts/lock.py --check     (lists where pyproject.toml and the lock disagree)

uv itself is installed into .venv at the version below when it is missing or different.
tests/terraform/test_lock.py runs the same check.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.txt"
UV_VERSION = "0.13.8"
PYTHON_FLOOR = "3.11"
#: How the build backend's requirements are named in the lock's "# via" notes.
BUILD_INPUT = "build-system.in"

HEADER = f"""\
# Every package the test build (cloudbuild.test.yaml) installs, pinned with the hashes of
# its files: pyproject.toml's [project].dependencies, every extra, and [build-system].requires,
# resolved for Python {PYTHON_FLOOR} or newer on any platform.
#
# Regenerate after changing pyproject.toml (tests/terraform/test_lock.py fails until then):
#   make lock
# Install:
#   pip install --require-hashes --only-binary=:all: -r requirements/dev.txt
#   pip install --no-deps --no-build-isolation -e .
"""


class LockError(Exception):
    """The lock cannot be made; the message says why."""


@dataclass
class Pin:
    """One entry of the lock: ``name==version [; marker]``, its hashes and what pulled it in."""

    name: str
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


_VIA = re.compile(r"^#\s+(?:via\s+)?(?P<what>\S.*)$")


def parse_lock(text: str) -> list[Pin]:
    """The entries of a lock written by ``uv pip compile --generate-hashes`` (split annotations)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: list[Pin] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not line[0].isspace():
            if stripped.startswith("#"):
                continue
            req = Requirement(stripped.removesuffix("\\").strip())
            pinned = [s.version for s in req.specifier if s.operator == "=="]
            if len(pinned) != 1 or len(req.specifier) != 1:
                raise LockError(f"{stripped!r} is not pinned to one version with ==")
            pins.append(Pin(canonicalize_name(req.name), pinned[0], str(req.marker) if req.marker else None))
        elif not pins:
            raise LockError(f"{stripped!r} comes before the first entry")
        elif stripped.startswith("--hash="):
            pins[-1].hashes.append(stripped.removeprefix("--hash=").removesuffix("\\").strip())
        elif (via := _VIA.match(stripped)) and via["what"] != "via":
            pins[-1].via.append(via["what"])
    return pins


def disagreements(pyproject: Path, lock_text: str) -> list[str]:
    """Where the lock does not pin exactly what pyproject.toml declares; empty when they agree.

    Every declared requirement needs exactly one entry, hashed, whose version satisfies its
    specifier and which applies everywhere the requirement does; every entry needs a hash; and
    no entry may still be pinned as a direct input that pyproject.toml no longer declares.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    runtime, build = declared(pyproject)
    pins = parse_lock(lock_text)
    by_name: dict[str, list[Pin]] = defaultdict(list)
    for pin in pins:
        by_name[pin.name].append(pin)
    problems = [f"{p.name}=={p.version} has no --hash" for p in pins if not p.hashes]
    wanted: set[str] = set()
    for text in runtime + build:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        wanted.add(name)
        found = by_name.get(name, [])
        if len(found) != 1:
            problems.append(f"{text}: {len(found)} entries in the lock, want exactly one")
            continue
        pin = found[0]
        if not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{text}: the lock pins {pin.version}")
        if pin.marker and not req.marker:
            problems.append(f"{text}: the lock pins it only where {pin.marker}")
    direct = {p.name for p in pins if any(v.endswith("(pyproject.toml)") or v == f"-r {BUILD_INPUT}" for v in p.via)}
    stale = sorted(direct - wanted)
    problems += [f"{name}: pinned as a direct requirement that pyproject.toml does not declare" for name in stale]
    return problems


def declared(pyproject: Path) -> tuple[list[str], list[str]]:
    """(project requirements with every extra, build-system requirements) as pyproject.toml writes them."""
    doc = tomllib.loads(pyproject.read_text())
    project = doc["project"]
    runtime = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        runtime += [r for r in extra if r not in runtime]
    return runtime, list(doc.get("build-system", {}).get("requires", []))


def _uv() -> Path:
    uv = Path(sys.executable).parent / "uv"
    try:
        version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
        current = version.stdout.split()
    except OSError:
        current = []
    if current[1:2] != [UV_VERSION]:
        print(f"lock: installing uv {UV_VERSION} into {Path(sys.executable).parent.parent.name}", file=sys.stderr)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"]
        subprocess.run(pip, check=True)  # noqa: S603 - fixed arguments
    return uv


def compile_lock(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The lock's text: the header, then uv's resolution of what pyproject.toml declares."""
    _, build = declared(pyproject)
    with tempfile.TemporaryDirectory(prefix="mcp-auth-lock-") as tmp:
        # uv names its inputs in the "# via" notes as given: run it beside copies with fixed names.
        work = Path(tmp)
        shutil.copyfile(pyproject, work / "pyproject.toml")
        (work / BUILD_INPUT).write_text("".join(f"{r}\n" for r in build))
        out = work / "dev.txt"
        proc = subprocess.run(  # noqa: S603 - fixed arguments
            [_uv(), "pip", "compile", "pyproject.toml", BUILD_INPUT, "--all-extras", "--universal"]
            + ["--python-version", PYTHON_FLOOR, "--generate-hashes", "--no-header", "--quiet"]
            + ["--output-file", out.name],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise LockError(f"uv pip compile failed:\n{proc.stderr[-4000:]}")
        return HEADER + out.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (or check) the hash-locked requirements.")
    parser.add_argument("--check", action="store_true", help="only list where pyproject.toml and the lock disagree")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = disagreements(ROOT / "pyproject.toml", LOCK.read_text())
            for problem in problems:
                print(f"{LOCK.relative_to(ROOT)}: {problem}", file=sys.stderr)
            if problems:
                print("Run: make lock", file=sys.stderr)
            return 1 if problems else 0
        text = compile_lock()
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(text)
    print(LOCK.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
