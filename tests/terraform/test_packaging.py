"""The archive Terraform uploads is what the buildpack installs and what serves MCP."""

from __future__ import annotations

import secrets
import subprocess
import zipfile
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests._fixtures.terraform import ROOT, PackagedFunction, PackagedInstall, package


def test_archive_has_functions_at_the_root_the_framework_and_requirements(tmp_path: Path) -> None:
    archive = package.build(tmp_path / "source.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert "main.py" in names and "requirements.txt" in names and "mcp_auth/__init__.py" in names
    functions = {p.relative_to(ROOT / "functions").as_posix() for p in (ROOT / "functions").rglob("*.py")}
    framework = {
        f"mcp_auth/{p.relative_to(ROOT / 'lib' / 'mcp_auth').as_posix()}"
        for p in (ROOT / "lib" / "mcp_auth").rglob("*.py")
    }
    assert {n for n in functions | framework if "__pycache__" not in n} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_requirements_are_the_project_dependencies(tmp_path: Path) -> None:
    archive = package.build(tmp_path / "source.zip")
    listed = zipfile.ZipFile(archive).read("requirements.txt").decode().splitlines()
    assert listed == package.requirements(ROOT / "pyproject.toml").splitlines()
    assert any(line.startswith("functions-framework") for line in listed)


def test_the_same_sources_give_the_same_archive_bytes(tmp_path: Path) -> None:
    first = package.build(tmp_path / "a.zip").read_bytes()
    second = package.build(tmp_path / "b.zip").read_bytes()
    assert first == second


async def test_installed_archive_serves_mcp_to_the_python_client(packaged_function: PackagedFunction) -> None:
    headers = {"Authorization": f"Bearer {packaged_function.token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(packaged_function.url, http_client=http)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {"whoami", "echo"} <= tools
            result = await client.call_tool("whoami", {})
    assert result.structured_content is not None
    assert result.structured_content["user_id"] == packaged_function.user


async def test_installed_archive_refuses_a_request_without_a_token(
    packaged_function: PackagedFunction,
) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(packaged_function.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_installed_archive_runs_from_its_own_environment(packaged_function: PackagedFunction) -> None:
    assert (packaged_function.app_dir / "main.py").is_file()
    assert not (packaged_function.app_dir / "lib").exists()


def test_entry_point_module_loads_as_the_buildpack_starts_it(packaged_install: PackagedInstall) -> None:
    """The buildpack starts `functions-framework --target mcp` without --asgi, so main.py must import
    everything it uses itself (`import functions_framework.aio` for `@functions_framework.aio.http`)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "GOOGLE_CLOUD_PROJECT": "demo-packaging",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
        "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:9/mcp",
        "MCP_AUTH_JWT_ISSUER": "http://127.0.0.1:9/issuer",
        "MCP_AUTH_JWT_HS256_KEY": secrets.token_urlsafe(48),
    }
    result = subprocess.run(
        [packaged_install.bin_dir / "python", "-c", "import runpy; runpy.run_path('main.py')"],
        cwd=packaged_install.app_dir,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_packaging_without_an_entry_point_module_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "lib" / "mcp_auth").mkdir(parents=True)
    (tmp_path / "lib" / "mcp_auth" / "__init__.py").write_text("")
    with pytest.raises(package.PackagingError, match=r"functions/main\.py is missing"):
        package.archive_members(tmp_path)


def test_a_requirements_file_in_functions_is_refused_rather_than_silently_replaced(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "main.py").write_text("")
    (tmp_path / "functions" / "requirements.txt").write_text("requests\n")
    (tmp_path / "lib" / "mcp_auth").mkdir(parents=True)
    (tmp_path / "lib" / "mcp_auth" / "__init__.py").write_text("")
    with pytest.raises(package.PackagingError, match="functions/requirements.txt would clash"):
        package.archive_members(tmp_path)
