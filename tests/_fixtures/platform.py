"""A fake platform credential API and a GitHub-compatible API, both on loopback, plus a leak watch.

fake_platform      FakePlatform: GET /api/credentials/{user}/{provider} with the service token;
                   .connect(user, provider, token=..., expires_at=...), .disconnect(...), .fail_next(...),
                   .hold()/.release(), .hits(user, provider), .requests (headers of every call)
fake_github        FakeGitHub: /user/repos, /repos/{o}/{r}/issues, /search/issues; answers only
                   known tokens and records every request's headers
credential_stack   both, plus Secret Manager secrets (service token, webhook key) and .env(...) for
                   start_function; .webhook(url, user, provider) sends a signed webhook
leak_watch         session: every secret/token the tests make is registered here; it also records
                   the test process's log lines and the paths of function logs to scan
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_auth.credentials.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from mcp_auth.devtools.emulator import free_port


class LeakWatch(logging.Handler):
    """Collects secret values, log lines of this process and function log files, then finds leaks."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.values: set[str] = set()
        self.lines: list[str] = []
        self.files: list[Path] = []
        self._lock2 = threading.Lock()

    def secret(self, value: str) -> str:
        self.values.add(value)
        return value

    def watch_file(self, path: Path) -> None:
        self.files.append(path)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + repr(getattr(record, "__dict__", {}))
        except Exception:
            text = repr(record.__dict__)
        with self._lock2:
            self.lines.append(text)

    def leaks(self) -> list[str]:
        texts = {"test process log": "\n".join(self.lines)}
        for path in self.files:
            if path.exists():
                texts[str(path.name)] = path.read_text(errors="replace")
        return [
            f"a registered secret ({value[:4]}…) appears in {where}"
            for where, text in texts.items()
            for value in self.values
            if value and value in text
        ]


@pytest.fixture(scope="session")
def leak_watch() -> Iterator[LeakWatch]:
    watch = LeakWatch()
    watch.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(watch)
    yield watch
    root.removeHandler(watch)


class _Loopback:
    """A Starlette app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("loopback server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class FakePlatform(_Loopback):
    def __init__(self, watch: LeakWatch) -> None:
        self._watch = watch
        self.service_token = watch.secret("svc-" + secrets.token_urlsafe(24))
        self.credentials: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[dict[str, str]] = []
        self._hits: Counter[tuple[str, str]] = Counter()
        self._failures: list[int | str] = []
        self._gate = threading.Event()
        self._gate.set()
        self.held = 0
        self._stopping = threading.Event()
        super().__init__(Starlette(routes=[Route("/api/credentials/{user}/{provider}", self._credential)]))

    def stop(self) -> None:
        self._stopping.set()
        self._gate.set()
        super().stop()

    def connect(
        self, user: str, provider: str, *, token: str | None = None, expires_at: float | str | None = None, **extra: Any
    ) -> str:
        token = self._watch.secret(token or f"tok-{provider}-" + secrets.token_urlsafe(24))
        body: dict[str, Any] = {"access_token": token, "token_type": "bearer", **extra}
        if expires_at is not None:
            body["expires_at"] = expires_at
        self.credentials[(user, provider)] = body
        return token

    def disconnect(self, user: str, provider: str) -> None:
        self.credentials.pop((user, provider), None)

    def fail_next(self, *answers: int | str) -> None:
        """Answer the next requests with these statuses ("hang" sleeps past any client timeout)."""
        self._failures.extend(answers)

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def hits(self, user: str, provider: str) -> int:
        return self._hits[(user, provider)]

    async def _credential(self, request: Request) -> JSONResponse:
        import anyio

        user, provider = request.path_params["user"], request.path_params["provider"]
        self.requests.append(dict(request.headers))
        self._hits[(user, provider)] += 1
        if request.headers.get("authorization") != f"Bearer {self.service_token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        self.held += 1
        while not self._gate.is_set():
            await anyio.sleep(0.01)
        self.held -= 1
        if self._failures:
            answer = self._failures.pop(0)
            if answer == "hang":
                with anyio.move_on_after(30):
                    while not self._stopping.is_set():
                        await anyio.sleep(0.02)
                return JSONResponse({}, status_code=504)
            return JSONResponse({"error": "failure"}, status_code=int(answer))
        body = self.credentials.get((user, provider))
        if body is None:
            return JSONResponse(
                {"error": "not_connected", "connect_url": f"{self.url}/connect/{provider}"}, status_code=404
            )
        return JSONResponse(body)


class FakeGitHub(_Loopback):
    def __init__(self) -> None:
        self.logins: dict[str, str] = {}  # token -> login
        self.repos: dict[str, list[dict[str, Any]]] = {}
        self.issues: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.forced: list[tuple[int, Any]] = []  # (status, JSON body) for the next requests
        super().__init__(
            Starlette(
                routes=[
                    Route("/user/repos", self._repos),
                    Route("/repos/{owner}/{repo}/issues", self._create_issue, methods=["POST"]),
                    Route("/search/issues", self._search),
                ]
            )
        )

    def add_user(self, login: str, token: str, repos: list[str]) -> None:
        self.logins[token] = login
        self.repos[login] = [
            {
                "full_name": f"{login}/{name}",
                "private": False,
                "description": None,
                "html_url": f"https://github.test/{login}/{name}",
                "updated_at": "2026-01-01T00:00:00Z",
            }
            for name in repos
        ]

    def revoke(self, token: str) -> None:
        self.logins.pop(token, None)

    def _login(self, request: Request) -> str | None:
        self.requests.append((request.method, request.url.path, dict(request.headers)))
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        return self.logins.get(token) if scheme == "Bearer" else None

    async def _repos(self, request: Request) -> JSONResponse:
        login = self._login(request)
        if self.forced:
            status, body = self.forced.pop(0)
            return JSONResponse(body, status_code=status)
        if login is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.repos[login][: int(request.query_params.get("per_page", 30))])

    async def _create_issue(self, request: Request) -> JSONResponse:
        login = self._login(request)
        if login is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        owner, repo = request.path_params["owner"], request.path_params["repo"]
        if not any(r["full_name"] == f"{owner}/{repo}" for r in self.repos[login]):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        body = await request.json()
        issue = {
            "number": len(self.issues) + 1,
            "title": body["title"],
            "body": body.get("body", ""),
            "state": "open",
            "author": login,
            "html_url": f"https://github.test/{owner}/{repo}/issues/1",
            "repository_url": f"{self.url}/repos/{owner}/{repo}",
        }
        self.issues.append(issue)
        return JSONResponse(issue, status_code=201)

    async def _search(self, request: Request) -> JSONResponse:
        login = self._login(request)
        if login is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        terms = request.query_params.get("q", "").split()
        if "involves:@me" not in terms:
            return JSONResponse({"message": "Validation Failed"}, status_code=422)
        words = [t for t in terms if ":" not in t]
        items = [i for i in self.issues if i["author"] == login and all(w in i["title"] for w in words)]
        return JSONResponse({"total_count": len(items), "items": items})


@pytest.fixture
def fake_platform(leak_watch: LeakWatch) -> Iterator[FakePlatform]:
    platform = FakePlatform(leak_watch)
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    github = FakeGitHub()
    github.start()
    yield github
    github.stop()


@dataclass
class CredentialStack:
    platform: FakePlatform
    github: FakeGitHub
    sm_endpoint: str
    project: str
    webhook_key: bytes = field(repr=False)
    watch: LeakWatch

    @property
    def token_secret(self) -> str:
        return f"projects/{self.project}/secrets/platform-token"

    @property
    def webhook_secret(self) -> str:
        return f"projects/{self.project}/secrets/webhook-key"

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        """Settings for start_function: the platform, its secrets on the emulator, the fake GitHub."""
        return {
            "MCP_AUTH_SECRET_MANAGER_ENDPOINT": self.sm_endpoint,
            "MCP_AUTH_PLATFORM_URL": self.platform.url,
            "MCP_AUTH_PLATFORM_TOKEN_SECRET": self.token_secret,
            "MCP_AUTH_WEBHOOK_SECRET": self.webhook_secret,
            "GITHUB_API_URL": self.github.url,
            **overrides,
        }

    def connect_github(self, user_id: str, login: str, repos: list[str]) -> str:
        token = self.platform.connect(user_id, "github")
        self.github.add_user(login, token, repos)
        return token

    def signed(
        self,
        user: str,
        provider: str,
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        key: bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        import json

        body = json.dumps(
            {
                "event_id": event_id or f"evt_{uuid.uuid4().hex}",
                "user_id": user,
                "provider": provider,
                "type": "credential.updated",
            }
        ).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        signature = self.watch.secret(sign(key or self.webhook_key, ts, body))
        return body, {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature}

    def webhook(self, base_url: str, user: str, provider: str, **kwargs: Any) -> httpx.Response:
        body, headers = self.signed(user, provider, **kwargs)
        return httpx.post(f"{base_url}/api/webhooks/credential-updated", content=body, headers=headers, timeout=30)


@pytest.fixture
def credential_stack(
    fake_platform: FakePlatform, fake_github: FakeGitHub, secret_manager: Any, leak_watch: LeakWatch
) -> CredentialStack:
    key = leak_watch.secret(secrets.token_urlsafe(32)).encode()
    secret_manager.create_secret("platform-token", fake_platform.service_token.encode())
    secret_manager.create_secret("webhook-key", key)
    return CredentialStack(
        platform=fake_platform,
        github=fake_github,
        sm_endpoint=secret_manager.endpoint,
        project=secret_manager.project,
        webhook_key=key,
        watch=leak_watch,
    )
