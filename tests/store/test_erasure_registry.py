"""Every collection the code uses is in the erasure registry and in docs/data-model.md, and the other way round.

The names come from the source: string literals passed to ``.collection(...)``, and module-level string
constants that are (a name ending in ``COLLECTION``, a name passed to ``.collection(...)``, or an item
of a ``COLLECTIONS`` tuple). A new collection without its entry fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mcp_auth.ratelimit import window_id
from mcp_auth.rates import Rate
from mcp_auth.store.erasure import OWNED, window_digests

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib" / "mcp_auth"
DOC = ROOT / "docs" / "data-model.md"
SECTION = "## Erasure and export"


def _constants(tree: ast.Module) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):  # A, B = "a", "b"
            for name, item in zip(target.elts, node.value.elts, strict=False):
                if isinstance(name, ast.Name) and isinstance(item, ast.Constant) and isinstance(item.value, str):
                    found[name.id] = item.value
        elif isinstance(target, ast.Name):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[target.id] = value.value
            elif isinstance(value, ast.Tuple):
                found[target.id] = [e.id for e in value.elts if isinstance(e, ast.Name)]
    return found


def collections_in_code() -> set[str]:
    trees = {path: ast.parse(path.read_text()) for path in LIB.rglob("*.py")}
    constants: dict[str, set[str]] = {}
    for tree in trees.values():
        for name, value in _constants(tree).items():
            if isinstance(value, str):
                constants.setdefault(name, set()).add(value)
    found: set[str] = set()
    for tree in trees.values():
        local = _constants(tree)
        for name, value in local.items():
            if name.endswith("COLLECTION") and isinstance(value, str):
                found.add(value)
            if name == "COLLECTIONS" and isinstance(value, list):
                found |= {v for item in value if isinstance(v := local.get(item), str)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "collection":
                for arg in node.args[:1]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
                    elif isinstance(arg, ast.Name):
                        found |= constants.get(arg.id, set())
    return {name for name in found if re.fullmatch(r"[a-z][a-z0-9_]*", name)}


def documented() -> dict[str, str]:
    text = DOC.read_text()
    assert SECTION in text, f"{DOC.name} has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*`([^`]+)`\s*\|\s*([a-z_]+)\s*\|", section, flags=re.M)
    return dict(rows)


def test_the_scan_finds_the_collections_it_must():
    assert {"users", "api_keys", "audit", "identities", "meta", "rate_limits", "mcp_tasks", "mcp_replies"} <= (
        collections_in_code()
    )
    assert {"oauth_families", "oauth_refresh_tokens", "credential_versions", "credential_events"} <= (
        collections_in_code()
    )


def test_every_collection_the_code_uses_is_in_the_registry():
    missing = collections_in_code() - {owned.name for owned in OWNED}
    assert not missing, f"add {sorted(missing)} to OWNED in lib/mcp_auth/store/erasure.py"


def test_every_registry_entry_is_documented_with_how_erasure_reaches_it():
    doc = documented()
    registry = {owned.path: owned.reach for owned in OWNED}
    assert doc == registry, (
        f"docs/data-model.md '{SECTION}' and OWNED differ: {set(doc.items()) ^ set(registry.items())}"
    )


def test_a_window_hash_is_the_one_the_limiter_writes():
    uid, tool = "ann@example.com", "add_note"
    rate = Rate(10, 60)
    ids = {window_id("user", uid, rate, 7), window_id("tool", f"{uid}\x00{tool}", rate, 7)}
    assert {i.split("-")[2] for i in ids} == window_digests(uid, [tool])
