"""The import graph of ``lib/``: no circle, and no arrow back up a layer.

Every import counts, including those inside functions (made lazily for start-up time); only
``if TYPE_CHECKING:`` blocks are left out, since they never run. The layers, bottom up:

    foundation   errors, config, setting, rates, proxies, challenge, logs, http, bounded_json, heap, principal, _sdk,
                 connections.providers (what config parses MCP_AUTH_CONNECTIONS into), presets and grants
                 (what it checks the upstream provider's preset and the group grants with)
    store        store.*: Firestore paths and documents
    features     auth, oauth, credentials, ratelimit, backchannel, tasks, toolsets, context, edge, …
    composition  services (builds everything), endpoint, app; cli, devtools and stdio on top
"""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"
FOUNDATION = {
    f"mcp_auth.{m}"
    for m in (
        "errors",
        "config",
        "setting",
        "rates",
        "proxies",
        "challenge",
        "logs",
        "http",
        "bounded_json",
        "heap",
        "principal",
        "_sdk",
        "connections.providers",
        "presets",
        "grants",
    )
}
COMPOSITION = {"mcp_auth.services", "mcp_auth.endpoint", "mcp_auth.app"}
ABOVE_COMPOSITION = (
    "mcp_auth",
    "mcp_auth.app",
    "mcp_auth.endpoint",
    "mcp_auth.stdio",
    "mcp_auth.cli",
    "mcp_auth.devtools",
)


def _name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in (LIB / "mcp_auth").rglob("*.py")}  # the package, not build output beside it


def _target(name: str) -> str | None:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in MODULES else None


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= {t for a in node.names if (t := _target(a.name))}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self.found |= {t for a in node.names if (t := _target(f"{node.module}.{a.name}"))}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text()))
        graph[name] = visitor.found - {name}
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([*component, v]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _within(name: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_graph_is_read_from_every_module():
    assert {"mcp_auth.app", "mcp_auth.store.users", "mcp_auth.oauth.authorize"} <= set(GRAPH)
    assert "mcp_auth.store.users" in GRAPH["mcp_auth.context"]


def test_no_module_imports_itself_back_through_others():
    assert _cycles(GRAPH) == []


def test_the_foundation_imports_only_the_foundation():
    up = {m: sorted(GRAPH[m] - FOUNDATION) for m in FOUNDATION if GRAPH[m] - FOUNDATION}
    assert up == {}


def test_the_store_layer_imports_only_the_foundation_and_itself():
    up = {
        m: sorted(t for t in GRAPH[m] if t not in FOUNDATION and not _within(t, ("mcp_auth.store",)))
        for m in GRAPH
        if _within(m, ("mcp_auth.store",))
    }
    assert {m: t for m, t in up.items() if t} == {}


def test_only_the_top_reaches_the_composition_root():
    up = {m: sorted(GRAPH[m] & COMPOSITION) for m in GRAPH if not _within(m, ABOVE_COMPOSITION)}
    assert {m: t for m, t in up.items() if t and m != "mcp_auth.services"} == {}
