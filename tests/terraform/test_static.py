"""terraform fmt and validate, proof that validation really uses the provider schema, and how
variables are declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._fixtures.terraform import TERRAFORM_DIR, TerraformFailed, Workspace, make_workspace
from tests.terraform import toolchain


def test_terraform_files_are_formatted() -> None:
    result = toolchain.terraform([f"-chdir={TERRAFORM_DIR}", "fmt", "-check", "-recursive", "-diff", "-no-color"])
    assert result.returncode == 0, f"Run: terraform fmt -recursive terraform/\n{result.output}"


_VARIABLE = re.compile(r'^variable "(?P<name>\w+)" \{\n(?P<body>.*?)^\}\n', re.M | re.S)
MODULES = [TERRAFORM_DIR, *sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.relative_to(TERRAFORM_DIR.parent).as_posix())
def test_every_variable_is_declared_in_a_variables_file_typed_and_described_in_its_own_words(module: Path) -> None:
    """One variables file per concern (variables.tf, variables-<concern>.tf), each variable with a
    type and a one-line description that no other variable of the module shares."""
    descriptions: dict[str, str] = {}
    for path in sorted(module.glob("*.tf")):
        for variable in _VARIABLE.finditer(path.read_text()):
            name, body = variable["name"], variable["body"]
            assert re.fullmatch(r"variables(-[a-z]+(-[a-z]+)*)?\.tf", path.name), f"{name} is declared in {path.name}"
            assert re.search(r"^  type\s+=", body, re.M), f"{name} has no type"
            description = re.search(r'^  description\s+=\s+"(.+)"$', body, re.M)
            assert description, f"{name} has no one-line description"
            assert description[1] not in descriptions.values(), f"{name} repeats another variable's description"
            descriptions[name] = description[1]
    assert descriptions, f"no variables found in {module}"


def test_configuration_is_valid(terraform_workspace: Workspace) -> None:
    result = terraform_workspace.run("validate")
    assert "The configuration is valid" in result.stdout


def test_init_installs_both_google_providers_at_their_pinned_versions(terraform_workspace: Workspace) -> None:
    lock = (terraform_workspace.path / ".terraform.lock.hcl").read_text()
    for name in ("google", "google-beta"):
        assert f'provider "registry.terraform.io/hashicorp/{name}"' in lock
        if not toolchain.REAL_PROVIDERS:
            assert f'version     = "{toolchain.provider_version(name)}"' in lock


def test_an_argument_the_provider_does_not_have_fails_validation(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    (workspace.path / "zz_typo.tf").write_text(
        'resource "google_storage_bucket" "typo" {\n'
        '  name     = "x"\n  location = "EU"\n  uniform_bucket_level_acess = true\n}\n'
    )
    result = workspace.run("validate", check=False)
    assert result.returncode != 0
    assert "Unsupported argument" in result.output and "uniform_bucket_level_acess" in result.output


def test_a_missing_required_argument_fails_validation(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    (workspace.path / "zz_missing.tf").write_text(
        'resource "google_storage_bucket" "nameless" {\n  location = "EU"\n}\n'
    )
    result = workspace.run("validate", check=False)
    assert result.returncode != 0
    assert "Missing required argument" in result.output and '"name" is required' in result.output


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('function={runtime="python310"}', "function.runtime must be python311 or newer"),
        ('function={cpu="0.5", concurrency=10}', "more than 1 needs at least 1 CPU"),
        (
            'auth={jwt_issuer="https://issuer.example", providers=["dev"]}',
            "dev is for local development and refused on Cloud Run",
        ),
        ('name="Bad_Name"', "name must be 3-20 lowercase letters"),
    ],
)
def test_invalid_settings_are_refused_with_a_message_naming_them(
    terraform_workspace: Workspace, override: str, message: str
) -> None:
    with pytest.raises(TerraformFailed) as failure:
        terraform_workspace.plan(variables=[override])
    assert message in " ".join(str(failure.value).split())


def test_a_missing_source_archive_is_reported_with_the_command_that_builds_it(terraform_workspace: Workspace) -> None:
    result = terraform_workspace.run(
        "plan",
        "-input=false",
        "-lock=false",
        "-var-file=examples/team.tfvars",
        f"-var=source_archive={terraform_workspace.path / 'nowhere.zip'}",
        check=False,
    )
    assert result.returncode != 0
    assert "python scripts/package.py" in " ".join(result.output.split())
