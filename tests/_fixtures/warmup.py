"""Install the heavy test tools in the background while the first tests run.

A fresh clone installs three toolchains the first time their tests need them: the
OAuth test server's Node project (tests/oidc), the interop Node project with the
conformance suites (tests/interop) and the Terraform tools with their provider
schemas (tests/terraform), and the packaged function's own environment
(tests/terraform/test_packaging.py). Each installer takes a file lock and is a no-op once
installed, so starting them early, in one background thread, only moves the
waiting off the test run's critical path: a test that needs a tool before its
installer finished blocks on the same lock. A failure here is ignored; the test
that needs the tool runs the installer again and reports the error itself.

Before starting, one line per install that will take a while says what is being installed and
about how long it takes, so a first run is never minutes of silence.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest


def _oidc() -> None:
    from tests.oidc.process import ensure_installed

    ensure_installed()


def _interop() -> None:
    from tests.interop.node import ensure_installed

    ensure_installed()


def _terraform() -> None:
    from tests.terraform import toolchain

    toolchain.cli_config(toolchain.tool_python())


def _packaging() -> None:
    from tests._fixtures.terraform import prepare_packaged_install

    prepare_packaged_install()


_ANNOUNCED = pytest.StashKey[bool]()


def _installed(module: str) -> Callable[[], bool]:
    def check() -> bool:
        import importlib

        return bool(importlib.import_module(module).installed())

    return check


def _terraform_installed() -> bool:
    """The tools virtualenv is stamped with its requirements' digest (as tool_python leaves it) and the
    provider mirror is configured."""
    import hashlib

    from tests.terraform import toolchain

    stamp = toolchain.TOOLS / "venv" / ".requirements.sha256"
    want = hashlib.sha256(toolchain.REQUIREMENTS.read_bytes()).hexdigest()
    return stamp.exists() and stamp.read_text() == want and (toolchain.TOOLS / "terraform.rc").exists()


#: installer -> (what it installs, about how long on a first run, whether that is already done).
_PROGRESS: dict[Callable[[], None], tuple[str, str, Callable[[], bool]]] = {
    _oidc: (
        "the OAuth test server's Node project (npm ci in tests/oidc)",
        "first run, under a minute",
        _installed("tests.oidc.process"),
    ),
    _interop: (
        "the interop Node project (npm ci in tests/interop)",
        "first run, about 1 min",
        _installed("tests.interop.node"),
    ),
    _terraform: (
        "the Terraform tools and provider schemas (into .dev/terraform)",
        "first run, about 2 min",
        _terraform_installed,
    ),
    _packaging: (
        "the packaged function's environment (pip in a fresh virtualenv)",
        "every run, about 1 min",
        lambda: False,
    ),
}


def _announce(config: pytest.Config, jobs: list[Callable[[], None]]) -> None:
    """One line per pending install on pytest's terminal (under xdist the controller writes them)."""
    terminal = config.pluginmanager.getplugin("terminalreporter")
    if terminal is None or config.stash.get(_ANNOUNCED, False):
        return
    config.stash[_ANNOUNCED] = True
    for job in jobs:
        what, how_long, done = _PROGRESS[job]
        with contextlib.suppress(Exception):
            if done():
                continue
        terminal.write_line(f"installing {what} in the background ({how_long})")


#: (test path prefix, installer), in the order the suite first needs them.
_INSTALLERS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("tests/auth/test_oidc_interop.py", _oidc),
    ("tests/oidc/", _oidc),
    ("tests/interop/", _interop),
    ("tests/terraform/", _terraform),
    ("tests/terraform/test_packaging.py", _packaging),
)


def _install(jobs: list[Callable[[], None]]) -> None:
    for job in jobs:
        with contextlib.suppress(Exception):
            job()


def _jobs(ids: Sequence[str]) -> list[Callable[[], None]]:
    jobs: list[Callable[[], None]] = []
    for prefix, job in _INSTALLERS:
        if job not in jobs and any(nodeid.startswith(prefix) for nodeid in ids):
            jobs.append(job)
    return jobs


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: Sequence[str]) -> None:
    """The xdist controller: its workers install; it says so, once."""
    jobs = _jobs(ids)
    if jobs:
        _announce(node.config, jobs)


def pytest_collection_finish(session: pytest.Session) -> None:
    jobs = _jobs([item.nodeid for item in session.items])
    if jobs and not session.config.option.collectonly:
        if "PYTEST_XDIST_WORKER" not in os.environ:
            _announce(session.config, jobs)
        threading.Thread(target=_install, args=(jobs,), name="test-tools-warmup", daemon=True).start()
