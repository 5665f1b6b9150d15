"""The public surface is what mcp_auth exports and the settings it reads; changing either must be
deliberate: both are pinned in tests/snapshots/ (see tests/_fixtures/snapshot.py).

A team's code in ``functions/`` uses only these names, and the framework never reaches into
``functions/``: both are checked here by reading the source, so a new import that crosses the
boundary fails a test.
"""

import ast
from pathlib import Path

import pytest

import mcp_auth
from mcp_auth.config import PREFIX, Settings
from mcp_auth.setting import specs
from tests._fixtures.snapshot import assert_matches_snapshot

ROOT = Path(__file__).resolve().parents[1]


def test_exported_names_are_pinned_and_sorted():
    assert mcp_auth.__all__ == sorted(mcp_auth.__all__)
    assert_matches_snapshot("public_api.txt", mcp_auth.__all__, what="names exported by mcp_auth (__all__)")
    for name in mcp_auth.__all__:
        assert hasattr(mcp_auth, name)


def test_setting_names_are_pinned():
    """Every ``MCP_AUTH_…`` name declared in config.py: a deployment's environment and Terraform set them."""
    names = [spec.env for _, spec in specs(Settings) if spec.env.startswith(PREFIX)]
    assert len(names) == len(set(names))
    assert_matches_snapshot(
        "settings.txt",
        names,
        what="MCP_AUTH_ settings",
        how="keep a renamed setting's old name working for one minor version (read it too, with a warning)",
    )


def test_a_name_taken_away_fails_with_what_a_breaking_change_needs():
    with pytest.raises(AssertionError) as failed:
        assert_matches_snapshot("public_api.txt", [*mcp_auth.__all__[:-1], "wrap"], what="names exported by mcp_auth")
    message = str(failed.value)
    assert "removed or renamed: wrap_server" in message and "added: wrap" in message
    assert (
        "breaking change" in message and "lib/CHANGELOG.md" in message and "tests/snapshots/public_api.txt" in message
    )


def test_current_user_outside_a_request_says_how_to_use_it():
    with pytest.raises(mcp_auth.McpAuthError, match="tool handler"):
        mcp_auth.current_user()


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def test_team_code_uses_only_the_public_api():
    crossing = []
    for path in sorted((ROOT / "functions").rglob("*.py")):
        for module, names in _imports(path):
            if module.startswith("mcp_auth."):
                crossing.append(f"{path.relative_to(ROOT)}: from {module} import …")
            elif module == "mcp_auth":
                crossing += [f"{path.relative_to(ROOT)}: {name}" for name in names if name not in mcp_auth.__all__]
    assert crossing == []


def test_the_framework_never_loads_the_template_or_rewrites_the_process():
    offences = []
    for path in sorted((ROOT / "lib").rglob("*.py")):
        text = path.read_text()
        for module, _ in _imports(path):
            if module.split(".")[0] in ("functions", "toolsets", "factory", "main"):
                offences.append(f"{path.relative_to(ROOT)} imports {module}")
        for needle in (
            "sys.path.insert",
            "sys.path.append",
            "os.environ[",
            "os.environ.setdefault",
            "os.putenv",
            "spec_from_file_location",
            "run_path(",
        ):
            if needle in text:
                offences.append(f"{path.relative_to(ROOT)} uses {needle}")
    assert offences == []
