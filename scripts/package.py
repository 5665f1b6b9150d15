"""Build the function source archive that Terraform uploads and Cloud Functions builds.

Layout (what the Python buildpack expects):

    main.py, ...        everything in functions/ (entry point ``mcp`` in main.py)
    mcp_auth/           the framework, copied from lib/mcp_auth/
    requirements.txt    [project].dependencies from pyproject.toml, and the `otel` extra

The archive is reproducible: the same sources give the same bytes, so its hash (the object
name Terraform uses) changes only when the code does.

    python scripts/package.py [--output build/function-source.zip]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "function-source.zip"
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "tests"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class PackagingError(Exception):
    """The sources are not in a shape that can be deployed; the message says what to fix."""


def requirements(pyproject: Path) -> str:
    """The runtime dependencies, one per line, as the buildpack's pip reads them."""
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
        deps = project["dependencies"]
        # The `otel` extra ships too, so Terraform's tracing switch works; it is imported only when tracing is on.
        deps = [*deps, *project.get("optional-dependencies", {}).get("otel", [])]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise PackagingError(f"Cannot read [project].dependencies from {pyproject}: {exc}") from exc
    return "".join(f"{dep}\n" for dep in deps)


def _files(base: Path) -> Iterator[Path]:
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if any(part in _EXCLUDED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in _EXCLUDED_SUFFIXES:
            yield path


def archive_members(root: Path = ROOT) -> dict[str, bytes]:
    """Archive path → content, for every file the archive holds."""
    functions, framework = root / "functions", root / "lib" / "mcp_auth"
    if not (functions / "main.py").is_file():
        raise PackagingError(f"{functions / 'main.py'} is missing: it defines the function's entry point.")
    if not (framework / "__init__.py").is_file():
        raise PackagingError(f"{framework} is not a Python package (no __init__.py).")
    for clash in ("requirements.txt", "mcp_auth"):
        if (functions / clash).exists():
            raise PackagingError(f"functions/{clash} would clash with the generated {clash}: rename it.")
    members: dict[str, bytes] = {}
    for path in _files(functions):
        members[path.relative_to(functions).as_posix()] = path.read_bytes()
    for path in _files(framework):
        members[f"mcp_auth/{path.relative_to(framework).as_posix()}"] = path.read_bytes()
    members["requirements.txt"] = requirements(root / "pyproject.toml").encode()
    return dict(sorted(members.items()))


def build(output: Path = DEFAULT_OUTPUT, root: Path = ROOT) -> Path:
    """Write the archive to ``output`` and return its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in archive_members(root).items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)
    tmp.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the function source archive.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the zip archive")
    args = parser.parse_args(argv)
    try:
        path = build(args.output)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
