"""The archive Terraform uploads is what the buildpack installs and what serves MCP.

It ships the framework as a wheel (scripts/package.py writes it with the standard library) and a
requirements.txt of the runtime lock and that wheel, every line with its hashes. The wheel
matches the one ``python -m build lib`` makes, and that one serves MCP from a clean venv too.
"""

from __future__ import annotations

import base64
import configparser
import csv
import email.parser
import hashlib
import io
import secrets
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from packaging.requirements import Requirement

from tests._fixtures.terraform import (
    ROOT,
    PackagedFunction,
    PackagedInstall,
    build_framework_wheel,
    package,
    prepare_packaged_install,
    serve_packaged,
)

RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"


def _wheel_name(names: set[str]) -> str:
    [wheel] = [n for n in names if n.startswith("vendor/") and n.endswith(".whl")]
    return wheel


def test_archive_has_functions_at_the_root_the_framework_wheel_and_requirements(tmp_path: Path) -> None:
    archive = package.build(tmp_path / "source.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert "main.py" in names and "requirements.txt" in names
    assert _wheel_name(names) == "vendor/mcp_auth_cloudrun-0.2.0-py3-none-any.whl"
    functions = {p.relative_to(ROOT / "functions").as_posix() for p in (ROOT / "functions").rglob("*.py")}
    assert {n for n in functions if "__pycache__" not in n} <= names
    # The framework is installed from its wheel, never imported from a copy of its sources.
    assert not [n for n in names if n.startswith(("mcp_auth/", "lib/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_requirements_are_the_runtime_lock_and_the_wheel_with_its_hash(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(package.build(tmp_path / "source.zip"))
    listed = archive.read("requirements.txt").decode()
    lock = RUNTIME_LOCK.read_text()
    assert lock[lock.index("\nannotated-types==") + 1 :] in listed  # every pin of the lock, as the lock writes it
    wheel = _wheel_name(set(archive.namelist()))
    digest = hashlib.sha256(archive.read(wheel)).hexdigest()
    assert listed.endswith(f"./{wheel} \\\n    --hash=sha256:{digest}\n")
    requirement_lines = [line for line in listed.splitlines() if line and not line[0].isspace() and line[0] != "#"]
    assert all(line.endswith(" \\") for line in requirement_lines)  # each followed by its --hash lines


def test_the_same_sources_give_the_same_archive_bytes(tmp_path: Path) -> None:
    first = package.build(tmp_path / "a.zip").read_bytes()
    second = package.build(tmp_path / "b.zip").read_bytes()
    assert first == second


def _dist_info(wheel: zipfile.ZipFile) -> str:
    [metadata] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return metadata.removesuffix("METADATA")


def _metadata(wheel: zipfile.ZipFile) -> dict[str, Any]:
    message = email.parser.Parser().parsestr(wheel.read(_dist_info(wheel) + "METADATA").decode())
    fields = ("Name", "Version", "Summary", "Requires-Python", "License-Expression", "Description-Content-Type")
    return {
        **{field: message[field] for field in fields},
        "Provides-Extra": sorted(message.get_all("Provides-Extra") or []),
        "Classifier": sorted(message.get_all("Classifier") or []),
        "License-File": sorted(message.get_all("License-File") or []),
        "Requires-Dist": sorted(str(Requirement(r)) for r in message.get_all("Requires-Dist") or []),
        "description": message.get_payload(),
    }


def _entry_points(wheel: zipfile.ZipFile) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(_dist_info(wheel) + "entry_points.txt").decode())
    return {section: dict(parser[section]) for section in parser.sections()}


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_framework_wheel(tmp_path_factory.mktemp("dist"))


def test_the_archive_wheel_is_the_wheel_the_build_backend_makes(built_wheel: Path, tmp_path: Path) -> None:
    name, content = package.framework_wheel(ROOT / "lib")
    ours_path = tmp_path / name
    ours_path.write_bytes(content)
    ours, theirs = zipfile.ZipFile(ours_path), zipfile.ZipFile(built_wheel)
    assert name == built_wheel.name
    assert ours.testzip() is None
    # top_level.txt is setuptools' own (legacy) addition; RECORD differs only by that line.
    skip = {_dist_info(theirs) + "top_level.txt", _dist_info(theirs) + "RECORD", _dist_info(theirs) + "WHEEL"}
    assert sorted(ours.namelist()) == sorted(set(theirs.namelist()) - {_dist_info(theirs) + "top_level.txt"})
    for member in sorted(set(theirs.namelist()) - skip):
        if member.endswith(("METADATA", "entry_points.txt")):
            continue
        assert ours.read(member) == theirs.read(member), member
    assert _metadata(ours) == _metadata(theirs)
    assert _entry_points(ours) == _entry_points(theirs) == {"console_scripts": {"mcp-auth": "mcp_auth.cli:main"}}
    assert {"mcp_auth/py.typed", "mcp_auth/store/indexes.json"} <= set(ours.namelist())
    assert ours.read(_dist_info(ours) + "licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()


def test_the_archive_wheel_record_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    name, content = package.framework_wheel(ROOT / "lib")
    wheel = zipfile.ZipFile(io.BytesIO(content))
    record = _dist_info(wheel) + "RECORD"
    rows = list(csv.reader(io.StringIO(wheel.read(record).decode())))
    assert sorted(r[0] for r in rows) == sorted(wheel.namelist())
    for path, digest, size in rows:
        if path == record:
            assert (digest, size) == ("", "")
            continue
        data = wheel.read(path)
        assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert int(size) == len(data)


def test_a_changed_framework_source_changes_the_wheel_and_its_hash_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (tmp_path / "requirements").mkdir()
    shutil.copyfile(RUNTIME_LOCK, tmp_path / "requirements" / "runtime.txt")
    before = package.archive_members(tmp_path)
    with (tmp_path / "lib" / "mcp_auth" / "health.py").open("a") as f:
        f.write("\n# changed\n")
    after = package.archive_members(tmp_path)
    wheel = "vendor/mcp_auth_cloudrun-0.2.0-py3-none-any.whl"
    assert before[wheel] != after[wheel]
    assert before["requirements.txt"] != after["requirements.txt"]
    assert f"--hash=sha256:{hashlib.sha256(after[wheel]).hexdigest()}" in after["requirements.txt"].decode()


def test_packaging_without_a_runtime_lock_says_to_make_it(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "main.py").write_text("")
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    with pytest.raises(package.PackagingError, match=r"runtime\.txt cannot be read .*make lock"):
        package.archive_members(tmp_path)


def test_package_command_reports_a_bad_framework_version_clearly(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (tmp_path / "lib" / "mcp_auth" / "_version.py").write_text("__version__ = make_it_up()\n")
    with pytest.raises(package.PackagingError, match=r"_version\.py does not assign a string to __version__"):
        package.framework_wheel(tmp_path / "lib")


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
    with pytest.raises(package.PackagingError, match=r"functions/main\.py is missing"):
        package.archive_members(tmp_path)


@pytest.mark.parametrize("clash", ["requirements.txt", "vendor", "mcp_auth"])
def test_a_generated_name_in_functions_is_refused_rather_than_silently_replaced(tmp_path: Path, clash: str) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "main.py").write_text("")
    (tmp_path / "functions" / clash).write_text("requests\n")
    with pytest.raises(package.PackagingError, match=f"functions/{clash} would clash"):
        package.archive_members(tmp_path)


def test_package_command_exits_nonzero_with_the_error_on_bad_input(tmp_path: Path) -> None:
    result = subprocess.run(
        ["python3", ROOT / "scripts" / "package.py", "--output", tmp_path / "out.zip", "--wheel-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "--wheel-dir: expected one argument" in result.stderr


@pytest.fixture(scope="session")
def built_wheel_function(firestore_emulator: Any) -> Iterator[PackagedFunction]:
    """The wheel ``python -m build lib`` makes, with the runtime lock and functions/, alone in a clean venv."""
    with serve_packaged(prepare_packaged_install("build"), firestore_emulator, "demo-packaging-build") as function:
        yield function


async def test_the_built_wheel_in_a_clean_venv_serves_mcp(built_wheel_function: PackagedFunction) -> None:
    headers = {"Authorization": f"Bearer {built_wheel_function.token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(built_wheel_function.url, http_client=http)) as client:
            result = await client.call_tool("echo", {"text": "from the wheel"})
    assert result.is_error is False
    assert [getattr(block, "text", None) for block in result.content] == ["from the wheel"]
    venv = built_wheel_function.app_dir.parent / "venv"
    installed = subprocess.run(
        [venv / "bin" / "python", "-c", "import mcp_auth; print(mcp_auth.__version__, mcp_auth.__file__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert installed[0] == "0.2.0" and installed[1].startswith(str(venv))
