"""The ``services`` marker: tests that need servers or tools of their own outside the test process.

A test is marked ``services`` when it lives in a suite that runs real servers, clients or tools
(``SERVICE_SUITES``: end-to-end, interop, hardening, the OAuth test server, Terraform, the
benchmark harness) or when it uses a fixture that starts one (``SERVICE_FIXTURES``, directly or
through another fixture): the Secret Manager emulator, the function under functions-framework, the
Node authorization server, the packaged function, Terraform. The rest run the code under test in
this process; the one outside process they may share is the session's Firestore emulator (the
store the request path reads). ``make test-fast`` runs exactly them: ``scripts/test.sh -m "not services"``.

A new fixture that starts a process belongs in ``SERVICE_FIXTURES``; ``tests/test_selection.py``
fails when a fixture module starts one and none of its fixtures is listed.
"""

from __future__ import annotations

import pytest

SERVICE_SUITES = (
    "tests/e2e/",
    "tests/interop/",
    "tests/hardening/",
    "tests/oidc/",
    "tests/terraform/",
    "tests/bench/",
)

#: Fixtures that start a process of their own (other than the shared Firestore emulator); a test
#: using one of them, or a fixture built on one, is a ``services`` test (pytest lists every
#: fixture a test needs, transitively).
SERVICE_FIXTURES = frozenset(
    {
        "restartable_firestore",  # tests/_fixtures/hardening.py
        "drongo_endpoint",  # tests/_fixtures/secret_manager.py
        "start_function",  # tests/_fixtures/function_server.py
        "function_server",
        "oidc_server",  # tests/_fixtures/oidc.py
        "oidc_server_factory",
        "packaged_install",  # tests/_fixtures/terraform.py
        "terraform_workspace",
        "node_bin",  # tests/interop/conftest.py
        "dev_server",  # tests/_fixtures/dev_server.py: mcp-auth dev, its emulator and function
        "shared_dev_server",
    }
)


def needs_services(nodeid: str, fixturenames: list[str] | tuple[str, ...]) -> bool:
    return nodeid.startswith(SERVICE_SUITES) or not SERVICE_FIXTURES.isdisjoint(fixturenames)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "services: needs servers or tools of its own in other processes (function servers, the Secret "
        "Manager emulator, Node, Terraform); "
        'make test-fast deselects these with -m "not services"',
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_services(item.nodeid, getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)
