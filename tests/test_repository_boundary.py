"""Firestore is reached only through the repository layer. This scan fails the build when code elsewhere
imports the Firestore library or walks collections and documents itself, because such code could
build a path without the caller's user id.

Repository modules (allowed): ``lib/mcp_auth/store/``, and the few framework modules listed in
``REPOSITORIES`` that own a global collection (their documents hold hashes and owner uids only).
Tool code in ``functions/`` reaches its data through ``mcp_auth.store.handle.user_store()``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPOSITORIES = (
    "lib/mcp_auth/store/",
    "lib/mcp_auth/oauth/store.py",
    "lib/mcp_auth/ratelimit/windows.py",
)
WIRING = (
    "lib/mcp_auth/services.py",
    "lib/mcp_auth/cli/",
    "lib/mcp_auth/devtools/",
    "lib/mcp_auth/auth/api_keys.py",
    "lib/mcp_auth/oauth/__init__.py",
)
"""Modules that may obtain the client, only to hand it to a repository."""
ACCESS_METHODS = frozenset({"collection_group", "collections", "document", "get_all", "recursive_delete"})
CLIENT_FACTORIES = frozenset({"firestore_client"})


def violations(source: str, *, may_build_client: bool = False) -> list[str]:
    """What in ``source`` reaches Firestore directly (line: finding)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            imported = [f"{n}.{a.name}" for n in names for a in getattr(node, "names", [])] + names
            if any(n.startswith("google.cloud.firestore") or n == "google.cloud.firestore" for n in imported) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "google.cloud"
                and any(a.name.startswith("firestore") for a in node.names)
            ):
                found.append(f"{node.lineno}: imports the Firestore library")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if isinstance(func, ast.Attribute) and name in ACCESS_METHODS and node.args:
                found.append(f"{node.lineno}: calls .{name}() on a Firestore object")
            if isinstance(func, ast.Attribute) and name == "collection" and not _on_store_handle(func.value):
                found.append(f"{node.lineno}: calls .collection() on a Firestore object")
            if not may_build_client and name in CLIENT_FACTORIES:
                found.append(f"{node.lineno}: builds a Firestore client")
    return found


def _on_store_handle(receiver: ast.expr) -> bool:
    """``user_store().collection(...)`` or ``store.collection(...)``: the handle's own, user-bound method."""
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name):
        return receiver.func.id == "user_store"
    return isinstance(receiver, ast.Name) and receiver.id in ("store", "user_store")


def _python_files() -> list[Path]:
    return sorted(
        p
        for folder in ("lib/mcp_auth", "functions")  # the package, not build output beside it
        for p in (ROOT / folder).rglob("*.py")
        if "egg-info" not in p.parts and "__pycache__" not in p.parts
    )


def _listed(path: Path, listing: tuple[str, ...]) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative == r or (r.endswith("/") and relative.startswith(r)) for r in listing)


def test_no_code_outside_the_repository_layer_touches_firestore_directly():
    offenders = {}
    for path in _python_files():
        if _listed(path, REPOSITORIES):
            continue
        found = violations(path.read_text(), may_build_client=_listed(path, WIRING))
        if found:
            offenders[path.relative_to(ROOT).as_posix()] = found
    assert offenders == {}, f"Firestore access outside the repository layer (use the store handle): {offenders}"


@pytest.mark.parametrize(
    "source",
    [
        "from google.cloud import firestore",
        "import google.cloud.firestore_v1 as fs",
        "from google.cloud.firestore_v1.base_query import FieldFilter",
        "client.collection('users').document(uid).get()",
        "db.collection_group('notes').stream()",
        "from mcp_auth.store.firestore import firestore_client\nfirestore_client(project=None)",
    ],
)
def test_the_scan_catches_each_way_of_bypassing_the_handle(source):
    assert violations(source)


def test_the_scan_leaves_store_handle_use_alone():
    source = "from mcp_auth.store.handle import user_store\nnotes = user_store().collection('notes')\n"
    assert violations(source) == []
