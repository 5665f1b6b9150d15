"""The public surface is what mcp_auth exports; changing it must be deliberate.

A team's code in ``functions/`` uses only these names, and the framework never reaches into
``functions/``: both are checked here by reading the source, so a new import that crosses the
boundary fails a test.
"""

import ast
from pathlib import Path

import pytest

import mcp_auth

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = [
    "AuthError",
    "AuthProvider",
    "ConfigError",
    "Conflict",
    "Credential",
    "CredentialNotConnected",
    "CredentialUnavailable",
    "Credentials",
    "CredentialsNotConfigured",
    "DisabledUser",
    "Document",
    "ExpiredToken",
    "InsufficientScope",
    "InvalidToken",
    "JwksUnavailable",
    "McpAuthApp",
    "McpAuthError",
    "MissingToken",
    "NotFound",
    "Principal",
    "SecretUnavailable",
    "Settings",
    "StoreUnavailable",
    "TaskPolicy",
    "TasksExtension",
    "Toolset",
    "ToolsetFactory",
    "ToolsetPrompt",
    "ToolsetResource",
    "UnknownUser",
    "UpstreamError",
    "UserCollection",
    "UserContext",
    "UserError",
    "UserRecord",
    "UserStore",
    "WrongAudience",
    "current_user",
    "forget_user_credential",
    "http_client",
    "prompt",
    "resource",
    "task_elicit",
    "task_input",
    "tool",
    "user_credential",
    "user_store",
    "wrap_server",
]


def test_exported_names_are_pinned_and_sorted():
    assert mcp_auth.__all__ == sorted(mcp_auth.__all__)
    assert mcp_auth.__all__ == EXPECTED
    for name in mcp_auth.__all__:
        assert hasattr(mcp_auth, name)


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
