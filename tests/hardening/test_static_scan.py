"""Static security scan of the framework and the template: ruff's ``S`` rules and bandit.

Every finding is fixed, or justified where it stands with ``# nosec Bxxx: reason`` (bandit) or
``# noqa: Sxxx - reason`` (ruff). ``ACCEPTED`` lists bandit findings that are reviewed false
positives still waiting for their inline justification; a new finding anywhere fails at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("lib", "functions")

# (file, bandit test id) -> how many, and why each is safe; every finding is now justified inline with `# nosec`.
ACCEPTED: dict[tuple[str, str], tuple[int, str]] = {}


def _bandit() -> list[dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", *TARGETS, "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = json.loads(completed.stdout)
    assert not report.get("errors"), report["errors"]
    return report["results"]


@pytest.fixture(scope="module")
def bandit_findings() -> Counter[tuple[str, str]]:
    return Counter((r["filename"].removeprefix("./"), r["test_id"]) for r in _bandit())


def test_ruff_security_rules_find_nothing_in_the_framework_or_the_template():
    completed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "S", "--output-format", "concise", *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout


def test_bandit_finds_nothing_beyond_the_reviewed_false_positives(bandit_findings):
    unexpected = {key: n for key, n in bandit_findings.items() if n > ACCEPTED.get(key, (0, ""))[0]}
    assert unexpected == {}, "new bandit findings: fix them or justify them inline with '# nosec Bxxx: reason'"


def test_every_bandit_finding_is_justified_inline(bandit_findings):
    assert sum(bandit_findings.values()) == 0, sorted(bandit_findings)
