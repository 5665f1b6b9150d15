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
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

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


def pytest_collection_finish(session: pytest.Session) -> None:
    ids = [item.nodeid for item in session.items]
    jobs: list[Callable[[], None]] = []
    for prefix, job in _INSTALLERS:
        if job not in jobs and any(nodeid.startswith(prefix) for nodeid in ids):
            jobs.append(job)
    if jobs and not session.config.option.collectonly:
        threading.Thread(target=_install, args=(jobs,), name="test-tools-warmup", daemon=True).start()
