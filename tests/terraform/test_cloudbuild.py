"""The two Cloud Build builds: what each runs, what each installs, and the triggers that start them."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests._fixtures.terraform import ROOT, Workspace
from tests.terraform.plan_json import one, references
from tests.terraform.test_lock import INSTALL_FRAMEWORK, INSTALL_LOCKED, INSTALL_TEMPLATE

TEST_BUILD = ROOT / "cloudbuild.test.yaml"
DEPLOY_BUILD = ROOT / "cloudbuild.deploy.yaml"
#: Substitutions Cloud Build itself provides.
BUILT_IN = {"PROJECT_ID", "COMMIT_SHA", "BUILD_ID", "LOCATION", "BRANCH_NAME", "SHORT_SHA", "REVISION_ID"}

_spec = importlib.util.spec_from_file_location("mcp_auth_scripts_verify", ROOT / "scripts" / "verify_tests_passed.py")
assert _spec is not None and _spec.loader is not None
verify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify)


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def test_build() -> dict[str, Any]:
    return _load(TEST_BUILD)


@pytest.fixture(scope="module")
def deploy_build() -> dict[str, Any]:
    return _load(DEPLOY_BUILD)


def _script(step: dict[str, Any]) -> str:
    return "\n".join(step.get("args", []))


def _commands(build: dict[str, Any]) -> list[list[str]]:
    """Every shell command of every step, split into words (continuation lines joined)."""
    commands = []
    for step in build["steps"]:
        text = step["args"][-1].replace("\\\n", " ")  # the script after -c
        for line in text.splitlines():
            for part in re.split(r"&&|\|\||\||;", line):
                if part.strip():
                    commands.append(shlex.split(part, comments=True))
    return [c for c in commands if c]


def _installs(build: dict[str, Any]) -> list[list[str]]:
    return [c for c in _commands(build) if "pip" in c and "install" in c]


def test_test_build_steps_are_install_lint_test(test_build: dict[str, Any]) -> None:
    assert [s["id"] for s in test_build["steps"]] == ["install", "lint", "test"]


def test_deploy_build_steps_are_verify_package_deploy_smoke(deploy_build: dict[str, Any]) -> None:
    assert [s["id"] for s in deploy_build["steps"]] == ["verify", "package", "deploy", "smoke"]


def test_deploy_build_smokes_the_url_terraform_deployed_with_the_standard_library_check(
    deploy_build: dict[str, Any],
) -> None:
    steps = {s["id"]: s for s in deploy_build["steps"]}
    assert "terraform -chdir=terraform output -raw mcp_url > build/mcp-url" in _script(steps["deploy"])
    # The image's bare python3 runs the file: lib/mcp_auth/smoke.py imports only the standard library
    # (tests/test_smoke.py), so nothing is installed; its non-zero exit fails the build.
    assert steps["smoke"]["name"] == "${_CLI_IMAGE}"
    assert 'python3 lib/mcp_auth/smoke.py "$$(cat build/mcp-url)" ${_SMOKE_FLAGS}' in _script(steps["smoke"])
    assert "-euo" in steps["smoke"]["args"] and (ROOT / "lib" / "mcp_auth" / "smoke.py").is_file()


def test_the_old_single_pipeline_is_gone() -> None:
    assert not (ROOT / "cloudbuild.yaml").exists()


def test_test_build_installs_only_the_hash_locked_packages_then_framework_and_template_without_dependencies(
    test_build: dict[str, Any],
) -> None:
    installs = [[w for w in c if w != "--quiet"] for c in _installs(test_build)]
    python = ".venv/bin/python"
    assert installs == [[python, *INSTALL_LOCKED], [python, *INSTALL_FRAMEWORK], [python, *INSTALL_TEMPLATE]]


def test_test_build_checks_the_lock_against_pyproject_before_testing(test_build: dict[str, Any]) -> None:
    install = _script(test_build["steps"][0])
    assert ".venv/bin/python -m pip check" in install
    assert ".venv/bin/python scripts/lock.py --check" in install


def test_no_build_runs_the_developer_bootstrap_or_make(
    test_build: dict[str, Any], deploy_build: dict[str, Any]
) -> None:
    # The builds spell out their installs; scripts/bootstrap.sh (which every make target runs) picks a mode and skips.
    for build in (test_build, deploy_build):
        words = {w for c in _commands(build) for w in c}
        assert not {"make", "scripts/bootstrap.sh"} & words


def test_deploy_build_installs_no_packages(deploy_build: dict[str, Any]) -> None:
    words = [w for c in _commands(deploy_build) for w in c]
    for installer in ("pip", "pip3", "npm", "npx", "apt-get", "apt", "uv", "install"):
        assert installer not in words


def test_test_build_lints_and_tests_as_make_lint_and_make_test_do(test_build: dict[str, Any]) -> None:
    steps = {s["id"]: _script(s) for s in test_build["steps"]}
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)
    test = re.search(r"^test:.*\n(?:\t.*\n)*?\t@(scripts/test\.sh)$", makefile, re.M)
    assert lint and test
    checks = [line.strip().lstrip("@") for line in lint[1].splitlines() if ".venv/bin/" in line]
    assert len(checks) >= 3  # ruff check, ruff format --check, mypy
    for check in checks:
        assert check in steps["lint"].splitlines()
    assert test[1] in steps["test"]


def test_deploy_build_verifies_packages_and_applies(deploy_build: dict[str, Any]) -> None:
    steps = {s["id"]: _script(s) for s in deploy_build["steps"]}
    assert "gcloud builds describe" in steps["verify"] and "scripts/verify_tests_passed.py" in steps["verify"]
    assert "python3 scripts/package.py --output build/function-source.zip" in steps["package"]
    assert "terraform -chdir=terraform apply" in steps["deploy"]
    for command in ("scripts/verify_tests_passed.py", "scripts/package.py"):
        assert (ROOT / command).is_file()


def test_the_test_build_gets_no_deployment_settings(test_build: dict[str, Any]) -> None:
    assert set(test_build["substitutions"]) == {"_CLI_IMAGE"}


@pytest.mark.parametrize("path", [TEST_BUILD, DEPLOY_BUILD], ids=lambda p: p.name)
def test_every_substitution_used_is_declared(path: Path) -> None:
    text = path.read_text().split("\nsubstitutions:", 1)[1]
    used = set(re.findall(r"(?<!\$)\$\{?([A-Z_][A-Z0-9_]*)\}?", text)) - BUILT_IN
    declared = set(_load(path)["substitutions"])
    assert used <= declared, used - declared


def test_both_builds_log_to_cloud_logging_only(test_build: dict[str, Any], deploy_build: dict[str, Any]) -> None:
    # The tester can write logs and nothing else: a Cloud Storage logs bucket would need more.
    assert test_build["options"]["logging"] == deploy_build["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def _trigger(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return one(plan, f"google_cloudbuild_trigger.{name}[0]")["values"]


def test_test_trigger_runs_the_test_build_as_the_tester_on_push(terraform_plan: dict[str, Any]) -> None:
    trigger = _trigger(terraform_plan, "test")
    assert trigger["filename"] == TEST_BUILD.name
    assert trigger["repository_event_config"][0]["push"][0]["branch"] == "^main$"
    assert "google_service_account.tester.id" in references(
        terraform_plan, "google_cloudbuild_trigger.test", "service_account"
    )


def test_deploy_trigger_runs_the_deploy_build_as_the_deployer_after_a_test_build_succeeded(
    terraform_plan: dict[str, Any], deploy_build: dict[str, Any]
) -> None:
    trigger = _trigger(terraform_plan, "deploy")
    assert trigger["git_file_source"][0]["path"] == DEPLOY_BUILD.name
    assert trigger["git_file_source"][0]["revision"] == trigger["source_to_build"][0]["ref"] == "refs/heads/main"
    assert trigger["repository_event_config"] == []  # a push alone never deploys
    assert one(terraform_plan, "google_pubsub_topic.build_events[0]")["values"]["name"] == "cloud-builds"
    assert trigger["approval_config"] == [{"approval_required": True}]
    assert "google_service_account.deployer.id" in references(
        terraform_plan, "google_cloudbuild_trigger.deploy", "service_account"
    )
    # The filter reads the message's status, trigger and branch; the test trigger's id comes from Terraform.
    assert "google_cloudbuild_trigger.test" in references(terraform_plan, "google_cloudbuild_trigger.deploy", "filter")
    substitutions = trigger["substitutions"]
    assert substitutions["_EVENT_STATUS"] == "$(body.message.attributes.status)"
    assert substitutions["_EVENT_BUILD"] == "$(body.message.attributes.buildId)"
    assert substitutions["_TFVARS"] == "terraform/examples/team.tfvars"
    assert (ROOT / substitutions["_TFVARS"]).is_file()
    assert "google_cloudbuild_trigger.test" in references(
        terraform_plan, "google_cloudbuild_trigger.deploy", "substitutions"
    )
    assert set(substitutions) | {"_TEST_TRIGGER"} <= set(deploy_build["substitutions"])


def test_deploy_filter_names_success_the_test_trigger_and_the_deploy_branch() -> None:
    build_tf = (ROOT / "terraform" / "build.tf").read_text()
    filter_ = re.search(r"filter = join\(\" && \", \[\n(.*?)\n  \]\)", build_tf, re.S)
    assert filter_, "the deploy trigger's filter is not where this test reads it"
    assert [line.strip().rstrip(",") for line in filter_[1].splitlines()] == [
        r'"_EVENT_STATUS == \"SUCCESS\""',
        r'"_EVENT_TRIGGER == \"${google_cloudbuild_trigger.test[0].trigger_id}\""',
        r'"_EVENT_BRANCH == \"${var.build_trigger.deploy_branch}\""',
    ]


def test_no_triggers_without_a_repository(terraform_workspace: Workspace) -> None:
    plan = terraform_workspace.plan(variables=['build_trigger={state_bucket="b"}'])
    types = {r["type"] for r in plan["planned_values"]["root_module"].get("resources", [])}
    assert not {"google_cloudbuild_trigger", "google_pubsub_topic"} & types


def test_a_deploy_branch_the_test_trigger_never_builds_is_refused(terraform_workspace: Workspace) -> None:
    result = terraform_workspace.run(
        "plan",
        "-input=false",
        "-lock=false",
        "-var-file=examples/team.tfvars",
        f"-var=source_archive={terraform_workspace.archive}",
        '-var=build_trigger={repository="projects/p/locations/r/connections/c/repositories/x", '
        'state_bucket="b", branch="^release-.*$", deploy_branch="main"}',
        check=False,
    )
    assert result.returncode != 0
    assert "only a test build of that branch starts a deploy" in " ".join(result.output.split())


def test_package_step_writes_where_terraform_reads_the_archive(deploy_build: dict[str, Any]) -> None:
    package_step = next(s for s in deploy_build["steps"] if s["id"] == "package")
    storage = (ROOT / "terraform" / "storage.tf").read_text()
    assert "build/function-source.zip" in _script(package_step)
    assert '"${path.module}/../build/function-source.zip"' in storage


def test_deploy_applies_the_configuration_the_tests_plan(terraform_workspace: Workspace) -> None:
    # The test command plans exactly terraform/ with the same tfvars the trigger passes.
    source, planned = ROOT / "terraform", Path(terraform_workspace.path)
    assert sorted(p.relative_to(source) for p in source.rglob("*.tf") if ".terraform" not in p.parts) == sorted(
        p.relative_to(planned) for p in planned.rglob("*.tf") if ".terraform" not in p.parts
    )


# scripts/verify_tests_passed.py: what the deploy build's first step decides, on Build resources.

TRIGGER = "0f1e2d3c-4b5a-6978-8a9b-acbdcedfe0f1"
COMMIT = "3" * 40


def _build(**changes: Any) -> dict[str, Any]:
    build = {
        "id": "b-1",
        "status": "SUCCESS",
        "buildTriggerId": TRIGGER,
        "substitutions": {"COMMIT_SHA": COMMIT, "BRANCH_NAME": "main", "TRIGGER_NAME": "acme-mcp-test"},
    }
    build.update(changes)
    return build


def _verify(
    capsys: pytest.CaptureFixture[str], build: Any, *, trigger: str = TRIGGER, commit: str = COMMIT
) -> tuple[int, str, str]:
    code = verify.main(["--trigger", trigger, "--commit", commit], stdin=io.StringIO(json.dumps(build)))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_successful_test_build_of_the_same_commit_lets_the_deploy_go_on(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(capsys, _build())
    assert (code, err) == (0, "")
    assert COMMIT in out


@pytest.mark.parametrize(
    ("build", "options", "reason"),
    [
        (_build(status="FAILURE"), {}, "has status 'FAILURE'"),
        (_build(status="WORKING"), {}, "has status 'WORKING'"),
        (_build(buildTriggerId="another-trigger"), {}, "was started by trigger 'another-trigger'"),
        (_build(buildTriggerId=None), {}, "was started by trigger None"),
        (_build(substitutions={"COMMIT_SHA": "4" * 40}), {}, "tested commit '4444"),
        (_build(substitutions={}), {}, "tested commit None"),
        (_build(), {"commit": ""}, "not a full commit id"),
        (_build(), {"trigger": ""}, "the test trigger's id is empty"),
    ],
)
def test_anything_but_a_successful_test_build_of_this_commit_stops_the_deploy(
    capsys: pytest.CaptureFixture[str], build: dict[str, Any], options: dict[str, str], reason: str
) -> None:
    code, out, err = _verify(capsys, build, **options)
    assert code == 1 and out == ""
    assert "refusing to deploy" in err and reason in err


def test_an_answer_that_is_not_a_build_stops_the_deploy(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _verify(capsys, ["not", "a", "build"])
    assert code == 1 and "not a build" in err
