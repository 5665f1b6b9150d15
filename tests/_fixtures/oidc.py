"""A real OAuth 2.1 / OpenID authorization server for tests: oidc-provider (npm)
run by Node on a free loopback port (see tests/oidc/). The first use installs it
with `npm ci` from the committed lock file.

Fixtures:
    oidc_server          session: one server with the default settings (tests/oidc/settings.py)
    oidc_server_factory  start more servers with other settings; each stops when the test ends:
                             server = oidc_server_factory(default_account=None, resources={...})
                         keywords are the fields of OidcSettings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.oidc.helper import OidcServer, start_oidc_server
from tests.oidc.settings import OidcSettings


@pytest.fixture(scope="session")
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcServer]:
    with start_oidc_server(tmp_path_factory.mktemp("oidc"), OidcSettings()) as server:
        yield server


@pytest.fixture
def oidc_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., OidcServer]]:
    with contextlib.ExitStack() as servers:

        def start(**settings: Any) -> OidcServer:
            workdir = tmp_path_factory.mktemp("oidc-extra")
            return servers.enter_context(start_oidc_server(workdir, OidcSettings(**settings)))

        yield start
