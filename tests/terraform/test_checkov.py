"""checkov finds nothing to fix (each skip is justified inline, next to the resource)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests._fixtures.terraform import TERRAFORM_DIR
from tests.terraform import toolchain


def _failed(result: toolchain.Result) -> list[str]:
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    return [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]


def test_checkov_reports_no_failed_checks_on_the_configuration() -> None:
    result = toolchain.checkov(
        ["-d", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download", "--quiet", "--compact", "-o", "json"]
    )
    assert _failed(result) == []
    assert result.returncode == 0, result.stderr[-3000:]


def test_checkov_reports_no_failed_checks_on_the_plan(terraform_plan: dict[str, Any], tmp_path: Path) -> None:
    """The plan has every value evaluated (for_each, variables); the inline skips still apply."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(terraform_plan))
    result = toolchain.checkov(
        ["-f", str(plan), "--framework", "terraform_plan", "--repo-root-for-plan-enrichment", str(TERRAFORM_DIR)]
        + ["--skip-download", "--quiet", "--compact", "-o", "json"]
    )
    assert _failed(result) == []
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_checkov_skip_says_why() -> None:
    skips = [
        (path.name, line.strip())
        for path in sorted(TERRAFORM_DIR.rglob("*.tf"))
        for line in path.read_text().splitlines()
        if "checkov:skip" in line
    ]
    assert skips, "expected the justified skips in function.tf, iam.tf, kms.tf, build.tf and storage.tf"
    for name, line in skips:
        assert re.search(r"checkov:skip=CKV\w+:\s*\S.{20,}", line), f"{name}: a skip needs a reason: {line}"
