"""``github``: the caller's GitHub, with the caller's own token from the platform.

    list_my_repositories   GET  /user/repos
    create_issue           POST /repos/{owner}/{repo}/issues
    search_my_issues       GET  /search/issues?q=is:issue involves:@me ...

Each call resolves the user's ``github`` credential (cached; refreshed when the
platform's webhook says it changed) and sends it to the GitHub API only. A user
who has not connected GitHub gets a tool error saying where to connect it (the
framework turns ``user_credential``'s errors into tool errors).
``GITHUB_API_URL`` points the toolset at GitHub Enterprise (default api.github.com).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mcp_auth import Toolset, forget_user_credential, tool, user_credential

if TYPE_CHECKING:
    import httpx

PROVIDER = "github"
NAME = "GitHub"
TIMEOUT_SECONDS, CONNECT_SECONDS = 15.0, 5.0

logger = logging.getLogger(__name__)


def api_url() -> str:
    return (os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")


class Repository(BaseModel):
    full_name: str
    private: bool
    description: str | None = None
    html_url: str
    updated_at: str | None = None


class Issue(BaseModel):
    number: int
    title: str
    state: str
    html_url: str
    repository: str | None = None


class Repositories(BaseModel):
    repositories: list[Repository]


class Issues(BaseModel):
    total_count: int
    issues: list[Issue]


async def _github(
    method: str, path: str, *, params: dict[str, Any] | None = None, json: dict[str, Any] | None = None
) -> Any:
    import httpx  # here, not at import: a cold start that serves no GitHub call does not pay for it

    from mcp_auth import http_client

    credential = await user_credential(PROVIDER, display_name=NAME)
    headers = {
        "Authorization": credential.authorization,
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    try:
        response = await http_client().request(
            method,
            api_url() + path,
            params=params,
            json=json,
            headers=headers,
            timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS),
        )
    except httpx.TimeoutException:
        raise ToolError(f"{NAME} did not answer in time; try again.") from None
    except httpx.TransportError:
        raise ToolError(f"{NAME} could not be reached; try again later.") from None
    if response.status_code == 401:
        forget_user_credential(PROVIDER, credential)
        raise ToolError(f"{NAME} rejected your connection (it may have been revoked): reconnect {NAME}, then retry.")
    if response.status_code >= 500:
        raise ToolError(f"{NAME} is having problems (HTTP {response.status_code}); try again later.")
    if response.status_code >= 400:
        raise ToolError(f"{NAME} refused the request (HTTP {response.status_code}): {_message(response)}")
    try:
        return response.json()
    except ValueError:
        raise ToolError(f"{NAME} sent an answer that is not JSON.") from None


def _message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message)[:300] if message else "no details given"


async def list_my_repositories(
    visibility: Literal["all", "public", "private"] = "all",
    sort: Literal["created", "updated", "pushed", "full_name"] = "updated",
    limit: int = Field(default=30, ge=1, le=100, description="How many repositories to return."),
) -> Repositories:
    """List the repositories you can access on GitHub, most recently updated first."""
    data = await _github("GET", "/user/repos", params={"visibility": visibility, "sort": sort, "per_page": limit})
    if not isinstance(data, list):
        raise ToolError(f"{NAME} sent an unexpected answer.")
    return Repositories(repositories=[Repository.model_validate(item) for item in data[:limit]])


async def create_issue(
    repository: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$", description="The repository as owner/name."
    ),
    title: str = Field(min_length=1, max_length=256, description="The issue's title."),
    body: str = Field(default="", max_length=65_536, description="The issue's text (Markdown)."),
) -> Issue:
    """Open an issue in one of your GitHub repositories."""
    data = await _github("POST", f"/repos/{repository}/issues", json={"title": title, "body": body})
    return Issue.model_validate({**data, "repository": repository})


async def search_my_issues(
    query: str = Field(default="", max_length=256, description="Extra GitHub search terms, e.g. 'repo:o/r bug'."),
    state: Literal["open", "closed", "all"] = "open",
    limit: int = Field(default=30, ge=1, le=100, description="How many issues to return."),
) -> Issues:
    """Search the GitHub issues you created, were assigned, were mentioned in or commented on."""
    terms = ["is:issue", "involves:@me"] + ([f"state:{state}"] if state != "all" else []) + ([query] if query else [])
    data = await _github("GET", "/search/issues", params={"q": " ".join(terms), "per_page": limit})
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ToolError(f"{NAME} sent an unexpected answer.")
    issues = [Issue.model_validate({**item, "repository": _repo_of(item)}) for item in items[:limit]]
    return Issues(total_count=int(data.get("total_count", len(issues))), issues=issues)


def _repo_of(item: dict[str, Any]) -> str | None:
    url = item.get("repository_url")
    return "/".join(url.rsplit("/", 2)[-2:]) if isinstance(url, str) else None


TOOLSET = Toolset(
    "github",
    description="Your GitHub repositories and issues, with your own GitHub connection.",
    tools=[
        tool(list_my_repositories, scopes=["mcp:tools"], structured_output=True),
        tool(create_issue, scopes=["mcp:tools"], structured_output=True),
        tool(search_my_issues, scopes=["mcp:tools"], structured_output=True),
    ],
)
