"""Secret names: a short secret id resolved against the configured project, or a
full resource name ``projects/<project>/secrets/<id>[/versions/<n|latest>]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mcp_auth.errors import ConfigError

_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
# A project id (6-30 chars), a project number, or a domain-scoped id ("example.com:proj").
_PROJECT = re.compile(r"[a-z0-9][a-z0-9.:-]{0,99}")
_VERSION = re.compile(r"latest|[1-9][0-9]{0,18}")
_FULL = re.compile(r"projects/([^/]+)/secrets/([^/]+)(?:/versions/([^/]+))?")

_NAME_HELP = (
    "use a secret id (letters, digits, '-' and '_', at most 255) or "
    "'projects/<project>/secrets/<id>[/versions/<number|latest>]'"
)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """One version (a number, or ``latest``) of one secret in one project."""

    project: str
    secret: str
    version: str = "latest"

    @property
    def secret_path(self) -> str:
        return f"projects/{self.project}/secrets/{self.secret}"

    @property
    def path(self) -> str:
        return f"{self.secret_path}/versions/{self.version}"

    def __str__(self) -> str:
        return self.path


def check_project(project: str) -> str:
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise ConfigError(
            "The Google Cloud project id is missing or malformed: set GOOGLE_CLOUD_PROJECT "
            "to the id of the project that holds the secrets."
        )
    return project


def check_version(version: str) -> str:
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ConfigError(
            f"A secret version must be 'latest' or a positive version number such as '3'; got {str(version)[:40]!r}."
        )
    return version


def resolve(name: str, *, project: str, version: str = "latest") -> SecretRef:
    """Turn a configured secret name into a ``SecretRef``.

    A version inside a full resource name wins over ``version`` when ``version`` is
    ``latest``; two different pinned versions are a configuration error. Error
    messages never echo an invalid name: a misplaced secret value would leak.
    """
    check_version(version)
    if not isinstance(name, str):
        raise ConfigError(f"A secret name must be a string; got {type(name).__name__}: {_NAME_HELP}.")
    if _SECRET_ID.fullmatch(name):
        return SecretRef(project=project, secret=name, version=version)
    match = _FULL.fullmatch(name)
    if match is None or not _SECRET_ID.fullmatch(match[2]) or not _PROJECT.fullmatch(match[1]):
        raise ConfigError(f"Invalid secret name (a value of {len(name)} characters): {_NAME_HELP}.")
    own_version = match[3]
    if own_version is not None:
        check_version(own_version)
        if version != "latest" and version != own_version:
            raise ConfigError(
                f"Secret '{match[2]}' names version {own_version} but version {version} was "
                "requested: pin the version in one place only."
            )
        version = own_version
    return SecretRef(project=match[1], secret=match[2], version=version)
