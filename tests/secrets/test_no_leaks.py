"""No secret value reaches a log line, a repr or an exception message."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator

import pytest

from mcp_auth.errors import McpAuthError
from mcp_auth.secrets import SecretStore
from mcp_auth.secrets.client import TRANSPORT_LOGGER
from tests._fixtures.clock import ManualClock
from tests._fixtures.secret_manager import CountingProxy, SecretManagerAdmin
from tests.secrets.helpers import secret_value

MakeStore = Callable[..., SecretStore]


@pytest.fixture
def google_debug_logs() -> Iterator[None]:
    """Let the Google client libraries' DEBUG records (request/response logging) reach caplog."""
    google = logging.getLogger("google")
    saved = google.level, google.propagate
    google.setLevel(logging.DEBUG)
    google.propagate = True
    try:
        yield
    finally:
        google.setLevel(saved[0])
        google.propagate = saved[1]


def forms(value: bytes) -> list[str]:
    """The ways a value could show up in text: raw, base64, bytes repr."""
    return [value.decode(), base64.b64encode(value).decode(), repr(value)]


async def test_store_never_logs_or_shows_a_secret_value(
    make_store: MakeStore,
    secret_manager: SecretManagerAdmin,
    secret_manager_proxy: CountingProxy,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    google_debug_logs: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    values = [secret_value() for _ in range(3)]
    secret_manager.create_secret("signing-key", values[0])
    secret_manager.create_secret("retired", values[1])
    secret_manager.disable("retired", "1")
    store = make_store(project=secret_manager.project, endpoint=secret_manager_proxy.endpoint)
    shown: list[str] = []

    await store.require(["signing-key"])
    await store.versions("signing-key")
    secret_manager.add_version("signing-key", values[2])
    clock.advance(301)
    await store.versions("signing-key")
    await store.get("signing-key", version="1")
    for read in (store.require(["retired"]), store.get("retired", version="1"), store.get("nothing")):
        with pytest.raises(McpAuthError) as caught:
            await read
        shown += [str(caught.value), repr(caught.value)]
    secret_manager_proxy.reachable = False
    clock.advance(301)
    await store.get("signing-key")
    clock.advance(10_000)
    with pytest.raises(McpAuthError) as caught:
        await store.get("signing-key")
    shown += [str(caught.value), repr(caught.value), repr(store)]

    records = caplog.records
    assert any(r.name == "mcp_auth.secrets" and r.levelno == logging.DEBUG for r in records)
    assert any(r.name.startswith("google.") for r in records), "the client's DEBUG records were not captured"
    formatter = logging.Formatter()
    for record in records:
        shown += [record.getMessage(), repr(record.__dict__), formatter.format(record)]
    text = "\n".join(shown)
    for value in values:
        for form in forms(value):
            assert form not in text


def test_response_payloads_logged_by_the_client_transport_are_redacted(
    caplog: pytest.LogCaptureFixture, google_debug_logs: None
) -> None:
    caplog.set_level(logging.DEBUG)
    value = secret_value()
    encoded = base64.b64encode(value).decode()

    TRANSPORT_LOGGER.debug(
        "Received response", extra={"httpResponse": {"payload": f'{{"payload": {{"data": "{encoded}"}}}}'}}
    )

    (record,) = [r for r in caplog.records if r.name == TRANSPORT_LOGGER.name]
    assert record.httpResponse == {"payload": "<redacted>"}
