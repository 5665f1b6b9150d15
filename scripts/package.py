"""Build the function source archive that Terraform uploads and Cloud Functions builds.

Layout (what the Python buildpack expects):

    main.py, ...        everything in functions/ (entry point ``mcp`` in main.py)
    vendor/mcp_auth_cloudrun-<version>-py3-none-any.whl
                        the framework, built from lib/ as a wheel
    requirements.txt    requirements/runtime.txt (every dependency pinned with its hashes) and the
                        wheel with its hash: the buildpack's `pip install -r requirements.txt`
                        checks every file it installs

The archive is reproducible: the same sources give the same bytes, so its hash (the object
name Terraform uses) changes only when the code does. This script uses the standard library
only (the deploy build installs no packages), so it writes the framework's wheel itself, from
what lib/pyproject.toml declares; tests/terraform/test_packaging.py checks that wheel against
the one `python -m build lib` makes.

    python scripts/package.py [--output build/function-source.zip]
    python scripts/package.py --wheel-dir DIR      (only the framework's wheel)
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import io
import re
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "function-source.zip"
RUNTIME_LOCK = Path("requirements") / "runtime.txt"
VENDOR = "vendor"
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "tests"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class PackagingError(Exception):
    """The sources are not in a shape that can be deployed; the message says what to fix."""


def _files(base: Path) -> Iterator[Path]:
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if any(part in _EXCLUDED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in _EXCLUDED_SUFFIXES:
            yield path


def _zip(members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` in the given order, with fixed times and modes: the same input, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)
    return buffer.getvalue()


# The framework's wheel (https://packaging.python.org/en/latest/specifications/binary-distribution-format/).


def _framework_project(lib: Path) -> dict[str, Any]:
    pyproject = lib / "pyproject.toml"
    try:
        doc = tomllib.loads(pyproject.read_text())
        project = doc["project"]
        project["name"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise PackagingError(f"Cannot read [project] from {pyproject}: {exc}") from exc
    if "version" not in project:
        attr = doc.get("tool", {}).get("setuptools", {}).get("dynamic", {}).get("version", {}).get("attr", "")
        module, _, name = attr.rpartition(".")
        source = lib / Path(*module.split(".")).with_suffix(".py")
        project["version"] = _assigned_string(source, name)
    return doc


def _assigned_string(source: Path, name: str) -> str:
    """The string literal ``name = "..."`` assigns at the top level of ``source``."""
    try:
        tree = ast.parse(source.read_text())
    except (OSError, SyntaxError) as exc:
        raise PackagingError(f"Cannot read the framework's version from {source}: {exc}") from exc
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    raise PackagingError(f"{source} does not assign a string to {name}.")


def _metadata(project: dict[str, Any], readme: str) -> str:
    lines = [
        "Metadata-Version: 2.4",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
    ]
    if "license" in project:
        lines.append(f"License-Expression: {project['license']}")
    lines += [f"License-File: {name}" for name in project.get("license-files", [])]
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines.append("Description-Content-Type: text/markdown")
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for req in requirements:
            spec, _, marker = req.partition(";")
            condition = f'({marker.strip()}) and extra == "{extra}"' if marker.strip() else f'extra == "{extra}"'
            lines.append(f"Requires-Dist: {spec.strip()}; {condition}")
    return "\n".join(lines) + "\n\n" + readme


def _record_line(name: str, content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(content)}\n"


def framework_wheel(lib: Path) -> tuple[str, bytes]:
    """(file name, bytes) of the framework's wheel, built from ``lib`` the way its pyproject.toml declares."""
    doc = _framework_project(lib)
    project = doc["project"]
    setuptools = doc.get("tool", {}).get("setuptools", {})
    package_data: dict[str, list[str]] = setuptools.get("package-data", {})
    dist = re.sub(r"[-_.]+", "_", project["name"]).lower()
    dist_info = f"{dist}-{project['version']}.dist-info"
    members: dict[str, bytes] = {}
    packages = [p for p in setuptools.get("packages", {}).get("find", {}).get("include", []) if "*" not in p]
    if not packages:
        raise PackagingError(f"{lib / 'pyproject.toml'} names no package in [tool.setuptools.packages.find].include.")
    for package in packages:
        base = lib / package
        if not (base / "__init__.py").is_file():
            raise PackagingError(f"{base} is not a Python package (no __init__.py).")
        for path in _files(base):
            rel = path.relative_to(base).as_posix()
            if path.suffix == ".py" or any(fnmatch(rel, pattern) for pattern in package_data.get(package, [])):
                members[f"{package}/{rel}"] = path.read_bytes()
    readme = project.get("readme")
    members[f"{dist_info}/METADATA"] = _metadata(project, (lib / readme).read_text() if readme else "").encode()
    members[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: scripts/package.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"
    )
    scripts = project.get("scripts", {})
    if scripts:
        entries = "".join(f"{name} = {target}\n" for name, target in scripts.items())
        members[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{entries}\n".encode()
    for name in project.get("license-files", []):
        try:
            members[f"{dist_info}/licenses/{name}"] = (lib / name).read_bytes()
        except OSError as exc:
            raise PackagingError(f"The license file {lib / name} cannot be read: {exc}") from exc
    record = f"{dist_info}/RECORD"
    members[record] = ("".join(_record_line(n, c) for n, c in members.items()) + f"{record},,\n").encode()
    return f"{dist}-{project['version']}-py3-none-any.whl", _zip(members)


def requirements(root: Path, wheel_name: str, wheel: bytes) -> str:
    """The archive's requirements.txt: the runtime lock's pins and the framework's wheel, all with hashes."""
    lock = root / RUNTIME_LOCK
    try:
        pinned = lock.read_text()
    except OSError as exc:
        raise PackagingError(f"{lock} cannot be read ({exc.strerror}): run `make lock`.") from exc
    first = re.search(r"^[^#\s]", pinned, re.M)  # the lock's own header says how to make it, not needed here
    body = pinned[first.start() :] if first else ""
    if "--hash=" not in body:
        raise PackagingError(f"{lock} pins nothing with hashes: run `make lock`.")
    return (
        f"# {RUNTIME_LOCK.as_posix()} (every dependency, hash-pinned) and the framework's wheel: the buildpack's\n"
        "# pip checks every file it installs. Written by scripts/package.py.\n"
        f"{body}"
        f"./{VENDOR}/{wheel_name} \\\n    --hash=sha256:{hashlib.sha256(wheel).hexdigest()}\n"
    )


def archive_members(root: Path = ROOT) -> dict[str, bytes]:
    """Archive path → content, for every file the archive holds."""
    functions = root / "functions"
    if not (functions / "main.py").is_file():
        raise PackagingError(f"{functions / 'main.py'} is missing: it defines the function's entry point.")
    for clash in ("requirements.txt", VENDOR, "mcp_auth"):
        if (functions / clash).exists():
            raise PackagingError(f"functions/{clash} would clash with the generated {clash}: rename it.")
    members: dict[str, bytes] = {}
    for path in _files(functions):
        members[path.relative_to(functions).as_posix()] = path.read_bytes()
    wheel_name, wheel = framework_wheel(root / "lib")
    members[f"{VENDOR}/{wheel_name}"] = wheel
    members["requirements.txt"] = requirements(root, wheel_name, wheel).encode()
    return dict(sorted(members.items()))


def build(output: Path = DEFAULT_OUTPUT, root: Path = ROOT) -> Path:
    """Write the archive to ``output`` and return its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_bytes(_zip(archive_members(root)))
    tmp.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the function source archive.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the zip archive")
    parser.add_argument("--wheel-dir", type=Path, help="only write the framework's wheel into this directory")
    args = parser.parse_args(argv)
    try:
        if args.wheel_dir is not None:
            name, wheel = framework_wheel(ROOT / "lib")
            args.wheel_dir.mkdir(parents=True, exist_ok=True)
            path = args.wheel_dir / name
            path.write_bytes(wheel)
        else:
            path = build(args.output)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
