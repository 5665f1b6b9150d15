"""The project id: GOOGLE_CLOUD_PROJECT, else Application Default Credentials' project, found on first use.

Cloud Run does not set GOOGLE_CLOUD_PROJECT; ``google.auth.default()`` finds the project the way
every Google client does. Here it finds it in a service-account key generated for the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mcp_auth.config import Settings, default_project

BASE = {
    "MCP_AUTH_RESOURCE_URL": "https://mcp.example.com/mcp",
    "MCP_AUTH_JWT_ISSUER": "https://issuer.example.com/",
    "MCP_AUTH_JWT_JWKS_URL": "https://issuer.example.com/jwks",
}
#: Every variable google.auth.default() reads a project or credentials from.
PROJECT_VARIABLES = (
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


def write_key(path: Path, project: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project,
                "private_key_id": "0" * 40,
                "private_key": pem.decode(),
                "client_email": f"runtime@{project}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


@pytest.fixture
def no_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in PROJECT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no gcloud configuration either
    default_project.cache_clear()
    yield
    default_project.cache_clear()


def test_the_project_of_the_credentials_key_is_used_when_no_variable_sets_it(no_project, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(write_key(tmp_path / "key.json", "acme-from-key")))
    assert Settings.from_env(BASE).project == "acme-from-key"


def test_the_variable_wins_over_the_credentials(no_project, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(write_key(tmp_path / "key.json", "acme-from-key")))
    settings = Settings.from_env({**BASE, "GOOGLE_CLOUD_PROJECT": "acme-set"})
    assert settings.project == "acme-set"


def test_the_credentials_are_read_on_first_use_not_when_settings_are_built(no_project, monkeypatch, tmp_path):
    key = tmp_path / "key.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    settings = Settings.from_env(BASE)  # the key does not exist yet: building settings does not look
    write_key(key, "acme-later")
    assert settings.project == "acme-later"


def test_no_credentials_and_no_variable_leave_the_project_unset(no_project, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    assert Settings.from_env(BASE).project is None
