"""Secret names: short ids, full resource names, versions; bad names never echoed."""

from __future__ import annotations

import pytest

from mcp_auth.errors import ConfigError
from mcp_auth.secrets.names import SecretRef, resolve


def test_short_id_resolves_against_the_configured_project() -> None:
    assert resolve("jwt-key", project="acme-prod") == SecretRef("acme-prod", "jwt-key", "latest")
    assert resolve("jwt_key", project="acme-prod", version="4").path == (
        "projects/acme-prod/secrets/jwt_key/versions/4"
    )


def test_full_resource_name_keeps_its_own_project_and_version() -> None:
    ref = resolve("projects/shared-secrets/secrets/pepper/versions/2", project="acme-prod")
    assert ref == SecretRef("shared-secrets", "pepper", "2")
    assert resolve("projects/shared-secrets/secrets/pepper", project="acme-prod").version == "latest"


def test_two_different_pinned_versions_are_rejected() -> None:
    with pytest.raises(ConfigError, match="pin the version in one place"):
        resolve("projects/p1/secrets/pepper/versions/2", project="p1", version="3")


@pytest.mark.parametrize("version", ["0", "-1", "newest", "1.5", ""])
def test_bad_versions_are_rejected(version: str) -> None:
    with pytest.raises(ConfigError, match="'latest' or a positive version number"):
        resolve("pepper", project="p1", version=version)


@pytest.mark.parametrize(
    "name",
    ["", "has space", "a/b", "projects/p1/secrets/", "projects/p1/secrets/x/versions", "x" * 256],
)
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="use a secret id"):
        resolve(name, project="p1")


def test_a_bad_name_is_not_echoed_because_it_may_be_a_misplaced_secret() -> None:
    misplaced = "-----BEGIN PRIVATE KEY----- MIIEvQIBADANBg"
    with pytest.raises(ConfigError) as caught:
        resolve(misplaced, project="p1")
    assert misplaced not in str(caught.value)
    assert "MIIEvQ" not in str(caught.value)
