"""Importing the function loads only what its first request needs (issue #22: cold starts pay for imports).

PyJWT brings cryptography's certificate and key modules (about 20 ms); it is loaded by the first token verified,
not by ``import main``. Tasks are loaded when a team imports them. A fresh interpreter checks both, then that
the first verification still works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "k" * 48
ISSUER = "https://issuer.example/"
RESOURCE = "http://127.0.0.1:9/mcp"

_PROBE = """
import asyncio, json, sys
sys.path.insert(0, "functions")
import main  # what functions-framework loads: wrap_server() with the template's factory
watched = ("jwt", "cryptography.x509", "mcp_auth.tasks", "mcp_auth.oauth")
print(json.dumps([m for m in watched if m in sys.modules]))

import jwt  # only now, to mint the token the first request brings
from mcp_auth import Credentials
token = jwt.encode({"sub": "u1", "iss": ISSUER, "aud": RESOURCE, "exp": 4102444800}, KEY, algorithm="HS256")
principal = asyncio.run(main.app.services.auth.authenticate(Credentials(bearer=token)))
from mcp_auth import TasksExtension  # a name of the public API still resolves, on first use
print(json.dumps([principal.user_id, TasksExtension.__name__, "mcp_auth.tasks" in sys.modules]))
"""


def test_importing_the_function_loads_neither_pyjwt_nor_tasks_and_the_first_token_still_verifies():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_AUTH_") and k != "FIRESTORE_EMULATOR_HOST"}
    env.update(
        MCP_AUTH_RESOURCE_URL=RESOURCE,
        MCP_AUTH_PROVIDERS="jwt",
        MCP_AUTH_JWT_ISSUER=ISSUER,
        MCP_AUTH_JWT_HS256_KEY=KEY,
        GOOGLE_CLOUD_PROJECT="demo-cold-imports",
    )
    probe = f"ISSUER, RESOURCE, KEY = {ISSUER!r}, {RESOURCE!r}, {KEY!r}\n{_PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded, later = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert loaded == []
    assert later == ["u1", "TasksExtension", True]
