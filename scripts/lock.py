"""Regenerate the hash-locked requirements in requirements/: every environment the project installs.

    runtime.txt     the framework's dependencies and its `otel` and `gcp-trace` extras (lib/pyproject.toml):
                    what the function archive installs (scripts/package.py ships it as requirements.txt)
    build.txt       the build backend of lib/ and of the template ([build-system].requires)
    dev.txt         runtime + build + every extra of both pyproject files (tests, linters): what
                    `make test` and the test build install; it pins every package runtime.txt and
                    build.txt pin at the same version, so the tests run what is deployed
    toolchain.txt   requirements/toolchain.in: Terraform (embedded), the plugin protocol, checkov
    mcp-proxy.txt   requirements/mcp-proxy.in: mcp-proxy in an environment of its own (it needs mcp<2)

The framework itself (mcp-auth-cloudrun, from lib/) is never pinned: it is local and installed
with --no-deps. uv resolves each lock once for every platform and Python 3.11+ (--universal), with
the hashes of every file of each pinned release, preferring the versions the lock already pins: a
second run changes nothing, and a new release enters a lock only when its inputs ask for it
(or the lock file is deleted and made again).

    make lock                                     (or: .venv/bin/python scripts/lock.py)
    .venv/bin/python scripts/lock.py --check      (lists where the inputs and the locks disagree)
    .venv/bin/python scripts/lock.py runtime dev  (only these locks)

uv itself is installed into the running environment at the version below when it is missing or
different. tests/terraform/test_lock.py runs the same check.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
UV_VERSION = "0.13.8"
PYTHON_FLOOR = "3.11"
#: The framework's distribution (lib/pyproject.toml): local, so never pinned in a lock.
FRAMEWORK = "mcp-auth-cloudrun"


class LockError(Exception):
    """The lock cannot be made or read; the message says why."""


@dataclass
class Pin:
    """One entry of a lock: ``name==version [; marker]``, its hashes and what pulled it in."""

    name: str
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lock:
    """One lock file: what it is for, how it is installed, and the requirements it is made from."""

    name: str
    purpose: str
    install: tuple[str, ...]
    #: root -> {input name: requirements}; each input becomes ``<input name>`` beside uv.
    inputs: Callable[[Path], dict[str, list[str]]]
    #: Locks whose pins this one must reuse (given to uv as constraints, compared by --check).
    follows: tuple[str, ...] = ()

    def path(self, root: Path = ROOT) -> Path:
        return root / "requirements" / f"{self.name}.txt"

    def header(self) -> str:
        install = "".join(f"#   {line}\n" for line in self.install)
        return (
            f"# {self.purpose.replace(chr(10), chr(10) + '# ')}\n"
            f"# Pinned with the hashes of every file, for Python {PYTHON_FLOOR} or newer on any platform.\n"
            "#\n"
            "# Regenerate after changing what it is made from (tests/terraform/test_lock.py fails until then):\n"
            "#   make lock\n"
            "# Install:\n"
            f"{install}"
        )


def _pyproject(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LockError(f"cannot read {path}: {exc}") from exc


def _project(path: Path) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(dependencies, optional dependencies, build-system requires) as ``path`` writes them."""
    doc = _pyproject(path)
    project = doc.get("project")
    if not isinstance(project, dict):
        raise LockError(f"{path} has no [project] table")
    build = doc.get("build-system", {})
    return (
        list(project.get("dependencies", [])),
        dict(project.get("optional-dependencies", {})),
        list(build.get("requires", []) if isinstance(build, dict) else []),
    )


def _name(requirement: str) -> str:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return canonicalize_name(Requirement(requirement).name)


def _unique(requirements: list[str]) -> list[str]:
    return list(dict.fromkeys(requirements))


def framework_requirements(root: Path, extras: list[str] | None) -> list[str]:
    """lib/'s dependencies, with the named extras (all of them when ``extras`` is None)."""
    deps, optional, _ = _project(root / "lib" / "pyproject.toml")
    unknown = sorted(set(extras or ()) - set(optional))
    if unknown:
        raise LockError(f"lib/pyproject.toml has no extra {', '.join(unknown)} (it has: {', '.join(sorted(optional))})")
    for extra in sorted(optional) if extras is None else extras:
        deps += optional[extra]
    return _unique(deps)


def build_requirements(root: Path) -> list[str]:
    return _unique(_project(root / "lib" / "pyproject.toml")[2] + _project(root / "pyproject.toml")[2])


def template_requirements(root: Path) -> list[str]:
    """The template's dependencies and every extra, the framework replaced by what it needs itself."""
    from packaging.requirements import Requirement

    deps, optional, _ = _project(root / "pyproject.toml")
    out: list[str] = []
    for text in _unique(deps + [r for extra in optional.values() for r in extra]):
        req = Requirement(text)
        if _name(text) == FRAMEWORK:
            out += framework_requirements(root, sorted(req.extras))
        else:
            out.append(text)
    return _unique(out)


def _in_file(name: str) -> Callable[[Path], dict[str, list[str]]]:
    def read(root: Path) -> dict[str, list[str]]:
        path = root / "requirements" / name
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise LockError(f"cannot read {path}: {exc}") from exc
        return {name: [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]}

    return read


LOCKS: dict[str, Lock] = {
    lock.name: lock
    for lock in (
        Lock(
            name="runtime",
            purpose="What the function archive installs: the framework's dependencies (lib/pyproject.toml)\n"
            "and its `otel` and `gcp-trace` extras (traces to a collector or to Cloud Trace).",
            install=(
                "pip install --require-hashes -r requirements/runtime.txt",
                "pip install --no-deps ./lib      (scripts/package.py ships both as the archive's requirements.txt)",
            ),
            inputs=lambda root: {f"{FRAMEWORK}.in": framework_requirements(root, ["otel", "gcp-trace"])},
        ),
        Lock(
            name="build",
            purpose="The build backend of the framework (lib/) and of the template ([build-system].requires).",
            install=("pip install --require-hashes --only-binary=:all: -r requirements/build.txt",),
            inputs=lambda root: {"build-system.in": build_requirements(root)},
        ),
        Lock(
            name="dev",
            purpose="Every package `make test` and the test build (cloudbuild.test.yaml) install: runtime.txt,\n"
            "build.txt and every extra of both pyproject files, at the versions runtime.txt and build.txt pin.",
            install=(
                "pip install --require-hashes --only-binary=:all: -r requirements/dev.txt",
                "pip install --no-deps --no-build-isolation -e ./lib",
                "pip install --no-deps --no-build-isolation -e .",
            ),
            inputs=lambda root: {
                f"{FRAMEWORK}.in": framework_requirements(root, None),
                "mcp-auth-server.in": template_requirements(root),
                "build-system.in": build_requirements(root),
            },
            follows=("runtime", "build"),
        ),
        Lock(
            name="toolchain",
            purpose="The Terraform tools of tests/terraform (toolchain.py installs them into their own\n"
            "environment), from requirements/toolchain.in.",
            install=("pip install --require-hashes -r requirements/toolchain.txt",),
            inputs=_in_file("toolchain.in"),
        ),
        Lock(
            name="mcp-proxy",
            purpose="mcp-proxy in an environment of its own (tests/interop/mcp_proxy.py; it needs mcp<2),\n"
            "from requirements/mcp-proxy.in.",
            install=("pip install --require-hashes -r requirements/mcp-proxy.txt",),
            inputs=_in_file("mcp-proxy.in"),
        ),
    )
}


_VIA = re.compile(r"^#\s+(?:via\s+)?(?P<what>\S.*)$")


def parse_lock(text: str) -> list[Pin]:
    """The entries of a lock written by ``uv pip compile --generate-hashes`` (split annotations)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pins: list[Pin] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not line[0].isspace():
            if stripped.startswith("#"):
                continue
            try:
                req = Requirement(stripped.removesuffix("\\").strip())
            except InvalidRequirement as exc:
                raise LockError(f"{stripped!r} is not a requirement: {exc}") from exc
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


def disagreements(lock: Lock, root: Path = ROOT, texts: dict[str, str] | None = None) -> list[str]:
    """Where ``lock`` does not pin exactly what its inputs declare; empty when they agree.

    Every declared requirement needs exactly one entry, hashed, whose version satisfies its
    specifier and which applies everywhere the requirement does; every entry needs a hash; no
    entry may still be pinned as a direct input that is no longer declared; the framework is
    never pinned; and a package the locks this one follows pin has the same version here.
    ``texts`` gives lock texts by name instead of reading them from ``root``.
    """
    from packaging.requirements import Requirement

    def text_of(name: str) -> str:
        if texts is not None and name in texts:
            return texts[name]
        path = LOCKS[name].path(root)
        try:
            return path.read_text()
        except OSError as exc:
            raise LockError(f"cannot read {path.relative_to(root)}: {exc.strerror} (run: make lock)") from exc

    inputs = lock.inputs(root)
    pins = parse_lock(text_of(lock.name))
    by_name: dict[str, list[Pin]] = defaultdict(list)
    for pin in pins:
        by_name[pin.name].append(pin)
    problems = [f"{p.name}=={p.version} has no --hash" for p in pins if not p.hashes]
    if FRAMEWORK in by_name:
        problems.append(f"{FRAMEWORK} is pinned: it is local (lib/) and installed with --no-deps")
    wanted: set[str] = set()
    for text in _unique([r for reqs in inputs.values() for r in reqs]):
        req = Requirement(text)
        name = _name(text)
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
    direct = {p.name for p in pins if any(v.startswith("-r ") and v[3:] in inputs for v in p.via)}
    problems += [
        f"{name}: pinned as a direct requirement that {lock.name}'s inputs do not declare"
        for name in sorted(direct - wanted)
    ]
    for other in lock.follows:
        theirs = {(p.name, p.marker): p.version for p in parse_lock(text_of(other))}
        for pin in pins:
            version = theirs.get((pin.name, pin.marker))
            if version is not None and version != pin.version:
                problems.append(f"{pin.name}=={pin.version}: {other}.txt pins {version}")
    return problems


def framework_version_problems(root: Path = ROOT) -> list[str]:
    """The template's requirement on the framework must accept the version in lib/."""
    from packaging.requirements import Requirement

    match = re.search(r'^__version__ = "([^"]+)"$', (root / "lib" / "mcp_auth" / "_version.py").read_text(), re.M)
    if not match:
        return ["lib/mcp_auth/_version.py does not set __version__"]
    deps, _, _ = _project(root / "pyproject.toml")
    wanted = [Requirement(d) for d in deps if _name(d) == FRAMEWORK]
    if len(wanted) != 1:
        return [f"pyproject.toml declares {FRAMEWORK} {len(wanted)} times in [project].dependencies, want once"]
    if not wanted[0].specifier.contains(match[1], prereleases=True):
        return [f"pyproject.toml requires {wanted[0]}, but lib/ is version {match[1]}"]
    return []


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


def _constraints(text: str) -> str:
    """A lock's pins without hashes, as uv reads constraints."""
    return "".join(f"{p.name}=={p.version}{f' ; {p.marker}' if p.marker else ''}\n" for p in parse_lock(text))


def compile_lock(lock: Lock, root: Path = ROOT, made: dict[str, str] | None = None) -> str:
    """The lock's text: its header, then uv's resolution of its inputs.

    The versions the lock at ``root`` already pins are preferred (uv reads the output file it
    replaces); ``made`` holds the texts of locks compiled earlier in this run, by name.
    """
    with tempfile.TemporaryDirectory(prefix="mcp-auth-lock-") as tmp:
        # uv names its inputs in the "# via" notes as given: run it beside files with fixed names.
        work = Path(tmp)
        inputs = lock.inputs(root)
        for name, requirements in inputs.items():
            (work / name).write_text("".join(f"{r}\n" for r in requirements))
        out = work / f"{lock.name}.txt"
        if lock.path(root).is_file():
            shutil.copyfile(lock.path(root), out)
        constraints: list[str] = []
        for other in lock.follows:
            text = (made or {}).get(other) or LOCKS[other].path(root).read_text()
            (work / f"{other}.constraints").write_text(_constraints(text))
            constraints += ["--constraints", f"{other}.constraints"]
        proc = subprocess.run(  # noqa: S603 - fixed arguments
            [_uv(), "pip", "compile", *inputs, *constraints, "--universal", "--python-version", PYTHON_FLOOR]
            + ["--generate-hashes", "--no-header", "--quiet", "--no-emit-package", FRAMEWORK]
            + ["--output-file", out.name],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise LockError(f"uv pip compile of {lock.name} failed:\n{proc.stderr[-4000:]}")
        body = out.read_text()
        for other in lock.follows:  # uv notes constraints as inputs: they add nothing a reader needs
            body = re.sub(rf"(?m)^    #   -c {re.escape(other)}\.constraints\n", "", body)
            body = body.replace(f"# via -c {other}.constraints\n", "# via\n")
        return lock.header() + body


def _selected(names: list[str]) -> list[Lock]:
    unknown = [n for n in names if n not in LOCKS]
    if unknown:
        raise LockError(f"no lock named {', '.join(unknown)} (the locks: {', '.join(LOCKS)})")
    return [lock for name, lock in LOCKS.items() if not names or name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (or check) the hash-locked requirements.")
    parser.add_argument("locks", nargs="*", metavar="LOCK", help=f"only these locks ({', '.join(LOCKS)}; default: all)")
    parser.add_argument("--check", action="store_true", help="only list where the inputs and the locks disagree")
    args = parser.parse_args(argv)
    try:
        selected = _selected(args.locks)
        if args.check:
            problems = framework_version_problems()
            for lock in selected:
                problems += [f"{lock.path().relative_to(ROOT)}: {p}" for p in disagreements(lock)]
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                print("Run: make lock", file=sys.stderr)
            return 1 if problems else 0
        made: dict[str, str] = {}
        for lock in selected:
            print(f"lock: resolving {lock.path().relative_to(ROOT)}", file=sys.stderr)
            made[lock.name] = compile_lock(lock, made=made)
            lock.path().parent.mkdir(exist_ok=True)
            lock.path().write_text(made[lock.name])
            print(lock.path().relative_to(ROOT))
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
