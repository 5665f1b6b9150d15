"""A serving process freezes its start-up objects at its first request and again once its listener is up
(lib/mcp_auth/heap.py): in fresh interpreters, since a freeze is process-wide and cannot be undone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STAGES = """
import gc
from mcp_auth.heap import LISTENER, START, settle
before = gc.get_freeze_count()
first = settle(START)
frozen = gc.get_freeze_count()
later = [[] for _ in range(1000)]  # made after: collected as usual, not frozen by START again
again = settle(START)
unchanged = gc.get_freeze_count() == frozen
listener = settle(LISTENER)  # the second stage freezes what came since
print(before, first, frozen > 1000, again, unchanged, listener, gc.get_freeze_count() >= frozen + 1000,
      settle(LISTENER))
"""

FIRST_REQUEST = """
import asyncio, gc, os
os.environ.update(MCP_AUTH_PROVIDERS="jwt", MCP_AUTH_JWT_ISSUER="https://issuer.test/",
                  MCP_AUTH_JWT_HS256_KEY="k" * 48, MCP_AUTH_RESOURCE_URL="http://127.0.0.1/mcp",
                  GOOGLE_CLOUD_PROJECT="demo-heap", FIRESTORE_EMULATOR_HOST="127.0.0.1:9",
                  MCP_AUTH_FACTORY="factory:FACTORY")
import sys
sys.path.insert(0, "functions")
from mcp_auth import wrap_server
from mcp_auth.heap import START, settle
app = wrap_server()
before = gc.get_freeze_count()  # building the app freezes nothing

async def main():
    scope = {"type": "http", "method": "GET", "path": "/mcp", "raw_path": b"/mcp", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1")], "scheme": "http", "http_version": "1.1", "root_path": "",
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    return sent[0]["status"]

status = asyncio.run(main())
print(before, status, gc.get_freeze_count() > 10000, settle(START))  # False: the request did it
"""


def _run(script: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60, cwd=ROOT
    )
    return done.stdout.splitlines()[-1].split()  # the last line: the request's log line comes before it


def test_each_stage_freezes_the_objects_alive_then_once_and_later_ones_only_at_the_next_stage():
    assert _run(STAGES) == ["0", "True", "True", "False", "True", "True", "True", "False"]


def test_the_first_request_freezes_what_start_up_imported():
    assert _run(FIRST_REQUEST) == ["0", "405", "True", "False"]
