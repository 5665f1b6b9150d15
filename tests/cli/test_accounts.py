"""`mcp-auth accounts …` against the emulator: an administrator gives a user whose address changed
the record keyed by the old address; bad input is one clear error line (exit 2)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid

import pytest

from mcp_auth.cli import main
from mcp_auth.store.identities import Identity, IdentityLinks, derived_uid
from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm

ISSUER = "https://accounts.google.com"
ENV = {"MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp", "MCP_AUTH_JWT_ISSUER": "http://127.0.0.1:8080/dev",
       "MCP_AUTH_JWT_HS256_KEY": "k" * 48}


@pytest.fixture
async def links(user_repo) -> IdentityLinks:
    await warm(user_repo)
    return IdentityLinks(user_repo._client)  # noqa: SLF001 - the session client


@pytest.fixture
def cli(firestore_emulator, links, monkeypatch, capsys):
    """Run ``mcp-auth accounts …`` in this process, on its own event loop as the console script does
    (from an async test: ``await asyncio.to_thread(cli, ...)``)."""
    for name in [k for k in os.environ if k.startswith("MCP_AUTH_")]:
        monkeypatch.delenv(name)
    for name, value in {**ENV, "GOOGLE_CLOUD_PROJECT": TEST_PROJECT}.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = main(["accounts", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def _json(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_an_administrator_gives_a_renamed_user_the_record_of_the_old_address(cli, links, user_repo):
    tag = uuid.uuid4().hex[:8]
    old, new, sub = f"kim-{tag}@example.com", f"kim.lee-{tag}@example.com", f"1{tag}"
    await user_repo.create(UserRecord(uid=old, toolsets=frozenset({"notes"})))
    await links.link(Identity(issuer=ISSUER, sub=sub, email=new, email_vouched=True))  # her first sign-in

    assert _json(await asyncio.to_thread(cli, "show", "--sub", sub)) == {
        "uid": derived_uid(ISSUER, sub), "issuer": ISSUER, "sub": sub, "email": new}
    linked = _json(await asyncio.to_thread(cli, "link", old, "--sub", sub))
    assert linked["uid"] == old and linked["previous_uid"] == derived_uid(ISSUER, sub) and linked["displaced"] is None
    assert (await links.link(Identity(issuer=ISSUER, sub=sub, email=new, email_vouched=True))).uid == old


async def test_a_record_another_account_claimed_is_taken_only_with_replace(cli, links, user_repo):
    tag = uuid.uuid4().hex[:8]
    email = f"lou-{tag}@example.com"
    await user_repo.create(UserRecord(uid=email))
    await links.link(Identity(issuer=ISSUER, sub=f"2{tag}", email=email, email_vouched=True))

    refused = await asyncio.to_thread(cli, "link", email, "--sub", f"3{tag}")
    assert refused.returncode == 2 and "--replace" in refused.stderr and email in refused.stderr
    taken = _json(await asyncio.to_thread(cli, "link", email, "--sub", f"3{tag}", "--replace"))
    assert taken["uid"] == email and taken["displaced"] == {"sub": f"2{tag}", "email": email}


@pytest.mark.parametrize(("args", "needle"), [
    (("link", "nobody-" + uuid.uuid4().hex, "--sub", "1"), "create it first"),
    (("link", "../../etc", "--sub", "1"), "user id"),
    (("link", "someone", "--sub", "has space"), "--sub takes"),
    (("link", "someone", "--sub", "x" * 300), "--sub takes"),
    (("show", "--sub", "1", "--issuer", "file:///etc/passwd"), "--issuer takes"),
    (("show", "--sub", "never-" + uuid.uuid4().hex), "never signed in"),
])
def test_bad_input_is_one_clear_error_line_and_exit_status_2(cli, args, needle):
    done = cli(*args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and needle in lines[0], done.stderr
    assert done.stdout == ""
