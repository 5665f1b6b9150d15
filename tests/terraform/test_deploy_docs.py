"""docs/deploy.md says what the Terraform configuration does: the log fields the monitoring filters read,
the secrets Terraform creates and the providers a deployment may turn on (text only, no Terraform run)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
TERRAFORM = ROOT / "terraform"
_FIELD = re.compile(r"jsonPayload\.[A-Za-z_][A-Za-z0-9_.]*[A-Za-z0-9_]")


def _section(title: str) -> str:
    start = DEPLOY.index(f"\n## {title}\n")
    end = DEPLOY.find("\n## ", start + 1)
    return DEPLOY[start : end if end != -1 else None]


def _block(text: str, opening: str) -> str:
    """The text between ``opening`` (which ends with ``{``) and its closing brace."""
    start = text.index(opening) + len(opening)
    depth = 1
    for offset, char in enumerate(text[start:]):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return text[start : start + offset]
    raise AssertionError(f"{opening!r} is not closed")


def test_the_monitoring_section_names_the_log_fields_the_metrics_read_and_no_others():
    monitoring = (TERRAFORM / "monitoring.tf").read_text()
    section = _section("Monitoring")
    assert set(_FIELD.findall(section)) == set(_FIELD.findall(monitoring))  # filters and label extractors
    assert set(_FIELD.findall(_block(monitoring, "log_filters = {"))) <= set(_FIELD.findall(section))
    named = set(re.findall(r"`local\.([a-z_]+)`", section))
    assert named and all(re.search(rf"(?m)^\s*{name}\s*=", monitoring) for name in named)


def test_the_secrets_table_lists_every_secret_terraform_can_create():
    settings = _block((TERRAFORM / "secrets.tf").read_text(), "secret_settings = {")
    declared = dict(
        re.findall(r'(?m)^\s*(MCP_AUTH_[A-Z0-9_]+)\s*=\s*\{\s*id\s*=\s*"\$\{local\.prefix\}-([a-z0-9-]+)"', settings)
    )
    assert declared
    documented = dict(re.findall(r"(?m)^\| `(MCP_AUTH_[A-Z0-9_]+)` \| `<name>-([a-z0-9-]+)` \|", DEPLOY))
    assert documented == declared


def test_the_providers_row_lists_every_provider_a_deployment_may_turn_on():
    allowed = re.search(
        r'contains\(\[("[a-z_]+"(?:, "[a-z_]+")*)\], p\)', (TERRAFORM / "variables-auth.tf").read_text()
    )
    assert allowed is not None
    providers = re.findall(r'"([a-z_]+)"', allowed.group(1))
    row = next(line for line in DEPLOY.splitlines() if line.startswith("| `auth.providers`"))
    assert re.findall(r"`([a-z_]+)`", row.split("|")[1]) == providers
