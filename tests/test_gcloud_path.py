"""docs/deploy.md "Without Terraform: gcloud": the commands and env.yaml against the code and terraform/.

The archive is built as the page says and unpacked into the directory ``--source`` names; every
setting of the documented env.yaml is declared in lib/mcp_auth/config.py and, together, they make
valid production settings; the secret, the runtime account's roles and the runtime shape are those
Terraform uses.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_auth.config import SETTINGS, Settings
from mcp_auth.setting import REQUIRED, specs

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Without Terraform: gcloud"


def _section() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def _block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", _section(), re.S)
    assert len(blocks) == 1, f"expected one {language} block in {SECTION!r}"
    return blocks[0]


def _commands() -> list[list[str]]:
    """The shell commands, continuation lines joined, comments dropped."""
    text = _block("sh").replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        for part in re.split(r"&&|\||;", line):
            words = shlex.split(part, comments=True)
            if words:
                commands.append(words)
    return commands


def _command(*prefix: str) -> list[list[str]]:
    return [c for c in _commands() if c[: len(prefix)] == list(prefix)]


def _flags(words: list[str]) -> dict[str, str | None]:
    flags: dict[str, str | None] = {}
    for word in words:
        if word.startswith("--"):
            name, _, value = word.partition("=")
            flags[name] = value if value or "=" in word else None
    return flags


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    loaded = yaml.safe_load(_block("yaml"))
    assert isinstance(loaded, dict) and all(isinstance(v, str) for v in loaded.values()), loaded
    return loaded


@pytest.fixture(scope="module")
def deploy() -> dict[str, str | None]:
    (command,) = _command("gcloud", "functions", "deploy")
    return _flags(command)


def _terraform_default(variable_file: str, name: str) -> str:
    match = re.search(
        rf'^\s*{name}\s*=\s*optional\(string, "([^"]+)"\)', (ROOT / "terraform" / variable_file).read_text(), re.M
    )
    assert match, f"{name} default not found in {variable_file}"
    return match[1]


def test_every_setting_of_the_env_file_is_declared(env):
    unknown = [k for k in env if k.startswith("MCP_AUTH_") and k not in SETTINGS]
    assert not unknown


def test_the_env_file_has_every_required_setting_and_makes_valid_production_settings(env):
    required = {spec.env for f, spec in specs(Settings) if f.default is REQUIRED and f.default_factory is REQUIRED}
    assert required and required <= set(env)
    settings = Settings.from_env({**env, "K_SERVICE": "acme-mcp"})  # as on Cloud Run: no development settings
    assert settings.on_cloud_run and settings.providers == ("jwt",)
    assert settings.secret_names == (env["MCP_AUTH_JWT_HS_SECRET"],)


def test_the_env_file_names_the_run_app_url_the_page_computes(env):
    assert re.fullmatch(r"https://acme-mcp-\d+\.europe-west1\.run\.app/mcp", env["MCP_AUTH_RESOURCE_URL"])
    (echo,) = _command("echo")
    assert echo[1] == "https://$NAME-$NUMBER.$REGION.run.app/mcp"


def test_the_deploy_command_is_gen2_public_and_reads_the_env_file(deploy):
    assert {"--gen2", "--trigger-http", "--allow-unauthenticated"} <= set(deploy)
    assert deploy["--env-vars-file"] == "env.yaml"
    assert "--set-secrets" not in deploy and "--set-env-vars" not in deploy  # secrets are read by the code
    assert deploy["--service-account"] == "$RUNTIME"


def test_the_deploy_command_has_terraforms_runtime_shape(deploy):
    assert deploy["--entry-point"] == _terraform_default("variables-function.tf", "entry_point")
    assert deploy["--runtime"] == _terraform_default("variables-function.tf", "runtime")
    assert deploy["--memory"] == _terraform_default("variables-function.tf", "memory")


def test_the_secret_is_created_filled_and_readable_by_the_runtime_only(env):
    secret_settings = {k: v for k, v in env.items() if k.endswith("_SECRET")}
    assert secret_settings == {"MCP_AUTH_JWT_HS_SECRET": "acme-mcp-jwt-hs256-key"}
    # Terraform's name for the same secret: <name>-jwt-hs256-key.
    assert '"${local.prefix}-jwt-hs256-key"' in (ROOT / "terraform" / "secrets.tf").read_text()
    created = [c[3] for c in _command("gcloud", "secrets", "create")]
    filled = [c[4] for c in _command("gcloud", "secrets", "versions", "add")]
    bound = _command("gcloud", "secrets", "add-iam-policy-binding")
    assert created == filled == ["$NAME-jwt-hs256-key"]
    assert [(c[3], _flags(c)["--member"], _flags(c)["--role"]) for c in bound] == [
        ("$NAME-jwt-hs256-key", "serviceAccount:$RUNTIME", "roles/secretmanager.secretAccessor")
    ]


def test_the_runtime_account_gets_the_roles_terraform_grants_it():
    iam = (ROOT / "terraform" / "iam.tf").read_text()
    block = re.search(r"runtime_roles = toset\(\[(.*?)\]\)", iam, re.S)
    assert block
    terraform_roles = set(re.findall(r'"(roles/[^"]+)"', block[1]))
    loop = re.search(r"for role in ([^;]+); do", _block("sh"))
    assert loop
    granted = set(loop[1].split())
    conditional = [c for c in _command("gcloud", "projects", "add-iam-policy-binding") if "--role=$role" not in c]
    assert [_flags(c)["--role"] for c in conditional] == ["roles/datastore.user"]
    assert "projects/$PROJECT/databases/(default)" in (_flags(conditional[0])["--condition"] or "")
    assert granted | {"roles/datastore.user"} == terraform_roles


def test_every_composite_index_of_the_store_is_created():
    declared = json.loads((ROOT / "lib" / "mcp_auth" / "store" / "indexes.json").read_text())["composite_indexes"]
    created = []
    for command in _command("gcloud", "firestore", "indexes", "composite", "create"):
        flags = [w.partition("=")[2] for w in command if w.startswith("--field-config=")]
        group = _flags(command)["--collection-group"]
        created.append((group, tuple(flags)))
    expected = []
    for index in declared:
        fields = tuple(
            f"field-path={f['field_path']},"
            + (f"array-config={f['array_config'].lower()}" if "array_config" in f else f"order={f['order'].lower()}")
            for f in index["fields"]
        )
        expected.append((index["collection"], fields))
    assert created == expected


def test_the_archive_unpacks_into_the_source_directory_with_the_entry_point(deploy, tmp_path):
    assert _command("python", "scripts/package.py")
    assert ["unzip", "-q", "build/function-source.zip", "-d", deploy["--source"]] in _commands()
    archive = tmp_path / "function-source.zip"
    done = subprocess.run(
        [sys.executable, "scripts/package.py", "--output", str(archive)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    source = tmp_path / "function-source"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(source)
    assert (source / "requirements.txt").is_file()
    assert list((source / "vendor").glob("mcp_auth_cloudrun-*-py3-none-any.whl"))
    tree = ast.parse((source / "main.py").read_text())
    names: set[Any] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    assert deploy["--entry-point"] in names


def test_required_is_what_the_settings_declare_as_required():
    # The check above reads REQUIRED from the declarations; make sure it finds MCP_AUTH_RESOURCE_URL.
    fields = {spec.env: f for f, spec in specs(Settings)}
    assert fields["MCP_AUTH_RESOURCE_URL"].default is dataclasses.MISSING
