"""The framework's distribution (lib/pyproject.toml) declares what mcp_auth imports, and carries its version."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
import tomllib
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import mcp_auth

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"
PYPROJECT = tomllib.loads((LIB / "pyproject.toml").read_text())
#: Declared but not imported by name: the reason is the value.
NOT_IMPORTED = {
    "functions-framework": "its entry point runs the function (`python -m functions_framework`, app.handle)",
}


def _imports() -> dict[str, set[str]]:
    """Absolute third-party module → the files of lib/mcp_auth that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((LIB / "mcp_auth").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "mcp_auth" and top not in sys.stdlib_module_names:
                    found.setdefault(name, set()).add(path.relative_to(LIB).as_posix())
    return found


@cache
def _owners() -> dict[Path, str]:
    owners = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            owners[Path(str(dist.locate_file(file))).resolve()] = canonicalize_name(dist.metadata["Name"])
    return owners


def _distribution(module: str) -> str:
    """The distribution that installed ``module`` (namespace packages such as google.cloud resolve by submodule)."""
    try:
        spec = importlib.util.find_spec(module)
    except ValueError:  # imported already, without a __spec__ (some packages rebuild their modules)
        origin = getattr(sys.modules[module], "__file__", None)
    else:
        assert spec is not None, f"{module} is not installed"
        origin = spec.origin if spec.origin not in (None, "namespace") else None
    if origin is None:
        raise LookupError(module)
    return _owners()[Path(origin).resolve()]


def _declared() -> set[str]:
    project = PYPROJECT["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_every_package_mcp_auth_imports_is_declared() -> None:
    undeclared: dict[str, set[str]] = {}
    for module, files in _imports().items():
        try:
            dist = _distribution(module)
        except LookupError:  # a namespace package: its submodules imported elsewhere say whose it is
            continue
        if dist not in _declared():
            undeclared.setdefault(dist, set()).update(files)
    assert undeclared == {}, f"imported by lib/mcp_auth but not declared in lib/pyproject.toml: {undeclared}"


def test_every_declared_package_is_imported_or_its_reason_given() -> None:
    imported = set()
    for module in _imports():
        try:
            imported.add(_distribution(module))
        except LookupError:
            continue
    assert _declared() - imported == set(NOT_IMPORTED)


def test_the_version_has_one_source() -> None:
    assert mcp_auth.__version__ == importlib.metadata.version("mcp-auth-cloudrun")
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mcp_auth._version.__version__"}
    template = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [Requirement(r).specifier.contains(mcp_auth.__version__) for r in template if "mcp-auth-cloudrun" in r] == [
        True
    ]


def test_the_package_is_typed_and_licensed() -> None:
    assert (LIB / "mcp_auth" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["mcp_auth"]
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert (LIB / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert (
        "Apache License" in (ROOT / "LICENSE").read_text()
        and "END OF TERMS AND CONDITIONS" in (ROOT / "LICENSE").read_text()
    )
