"""``make test-fast`` selects the tests without servers of their own (``-m "not services"``, see
tests/_fixtures/selection.py): collected for real here, and kept honest about new fixture modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests._fixtures.selection import SERVICE_FIXTURES, SERVICE_SUITES, needs_services

ROOT = Path(__file__).resolve().parents[1]

#: What a fixture module calls when it starts a process (or installs the tools one needs).
PROCESS_STARTERS = (
    "Popen",
    "start_process",
    "start_oidc_server",
    "ensure_installed",
    "toolchain",
    "prepare_packaged_install",
)
#: The one shared outside process the fast tests may use (see the marker's documentation).
SHARED = frozenset({"firestore_emulator"})


def _collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def _fixture_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) in {"pytest.fixture", "fixture"}:
                    names.add(node.name)
    return names


def _fixture_modules() -> list[Path]:
    modules = sorted((ROOT / "tests" / "_fixtures").glob("*.py"))
    modules += sorted(p for p in (ROOT / "tests").rglob("conftest.py") if "node_modules" not in p.parts)
    return modules


def test_fast_selection_runs_the_in_process_tests_and_none_with_servers_of_their_own():
    fast = _collected("-m", "not services")
    files = {nodeid.split("::")[0] for nodeid in fast}
    assert not [nodeid for nodeid in fast if nodeid.startswith(SERVICE_SUITES)]
    # the request path in process (on the shared Firestore emulator), configuration, the SDK seams
    assert {"tests/test_endpoint.py", "tests/test_config.py", "tests/test_sdk.py"} <= files
    # a function server or the Secret Manager emulator (processes of their own) leave a test out
    assert not {"tests/tasks/test_tasks_http.py", "tests/oauth/test_server.py"} & files
    assert len(fast) > 300


def test_a_test_using_a_process_fixture_or_living_in_a_server_suite_needs_services():
    assert needs_services("tests/secrets/test_store.py::test_x", ["request", "drongo_endpoint"])
    assert needs_services("tests/e2e/test_mcp_client.py::test_x", ["request"])
    assert not needs_services("tests/test_endpoint.py::test_x", ["request", "firestore_emulator", "local_app"])
    assert not needs_services("tests/test_config.py::test_x", ["request", "monkeypatch"])


def test_every_fixture_module_that_starts_a_process_lists_its_fixture():
    unlisted = {}
    for path in _fixture_modules():
        source = path.read_text()
        tree = ast.parse(source)
        fixtures = _fixture_names(tree)
        starts = [name for name in PROCESS_STARTERS if name in source]
        if fixtures and starts and fixtures.isdisjoint(SERVICE_FIXTURES | SHARED):
            unlisted[path.relative_to(ROOT).as_posix()] = (starts, sorted(fixtures))
    assert unlisted == {}, (
        "fixture modules that start processes without a fixture in SERVICE_FIXTURES "
        f"(tests/_fixtures/selection.py): {unlisted}"
    )
