"""A Secret Manager stand-in for ``mcp-auth dev``: the three REST calls ``SecretStore`` makes, over secrets
generated for this run only (``MCP_AUTH_SECRET_MANAGER_ENDPOINT`` points the function at it; the settings
refuse that endpoint on Cloud Run, and the stand-in refuses to start there).

    GET /v1/projects/{p}/secrets/{s}                       the secret's metadata
    GET /v1/projects/{p}/secrets/{s}/versions              its one version, enabled
    GET /v1/projects/{p}/secrets/{s}/versions/{v}:access   the payload (``v``: 1 or latest)

Each secret has one version. Nothing can be written; a secret it was not given is a 404, as Secret Manager
answers. The payloads never reach a log line.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from mcp_auth.devtools.loopback import refuse_on_cloud_run

CREATED = "2026-01-01T00:00:00Z"


class DevSecrets:
    """The secrets of one development project, served read-only."""

    def __init__(self, *, project: str, secrets: Mapping[str, bytes]) -> None:
        refuse_on_cloud_run("The development Secret Manager stand-in")
        self.project = project
        self._secrets = dict(secrets)

    def __repr__(self) -> str:
        return f"DevSecrets({self.project!r}, {sorted(self._secrets)})"

    @property
    def routes(self) -> list[BaseRoute]:
        base = "/v1/projects/{project}/secrets/{secret}"
        return [
            Route(base, self._secret),
            Route(base + "/versions", self._versions),
            Route(base + "/versions/{version}:access", self._access),
        ]

    def _path(self, request: Request) -> tuple[str, bytes | None]:
        project, secret = request.path_params["project"], request.path_params["secret"]
        path = f"projects/{project}/secrets/{secret}"
        return path, self._secrets.get(secret) if project == self.project else None

    async def _secret(self, request: Request) -> JSONResponse:
        path, payload = self._path(request)
        if payload is None:
            return _not_found(f"Secret [{path}] not found or has no versions.")
        return JSONResponse({"name": path, "replication": {"automatic": {}}, "createTime": CREATED})

    async def _versions(self, request: Request) -> JSONResponse:
        path, payload = self._path(request)
        if payload is None:
            return _not_found(f"Secret [{path}] not found or has no versions.")
        version = {"name": f"{path}/versions/1", "state": "ENABLED", "createTime": CREATED}
        return JSONResponse({"versions": [version], "totalSize": 1})

    async def _access(self, request: Request) -> JSONResponse:
        path, payload = self._path(request)
        if payload is None:
            return _not_found(f"Secret [{path}] not found or has no versions.")
        version = request.path_params["version"]
        if version not in ("1", "latest"):
            return _not_found(f"Secret Version [{path}/versions/{version[:20]}] not found.")
        data = base64.b64encode(payload).decode()
        return JSONResponse({"name": f"{path}/versions/1", "payload": {"data": data}})


def _not_found(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}, status_code=404)
