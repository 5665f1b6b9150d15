"""`mcp-auth accounts …` against the emulator: an administrator gives a user whose address changed
the record keyed by the old address; bad input is one clear error line (exit 2)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import pytest

from mcp_auth.store.identities import Identity, IdentityLinks, derived_uid
from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm

ISSUER = "https://accounts.google.com"


@pytest.fixture
async def links(user_repo) -> IdentityLinks:
    await warm(user_repo)
    return IdentityLinks(user_repo._client)


@pytest.fixture
def accounts(cli, links):
    """``mcp-auth accounts …`` in this process, against the emulator (from an async test:
    ``await asyncio.to_thread(accounts, ...)``)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli("accounts", *args, env={"GOOGLE_CLOUD_PROJECT": TEST_PROJECT})

    return run


def _json(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_an_administrator_gives_a_renamed_user_the_record_of_the_old_address(accounts, links, user_repo):
    tag = uuid.uuid4().hex[:8]
    old, new, sub = f"kim-{tag}@example.com", f"kim.lee-{tag}@example.com", f"1{tag}"
    await user_repo.create(UserRecord(uid=old, toolsets=frozenset({"notes"})))
    await links.link(Identity(issuer=ISSUER, sub=sub, email=new, email_vouched=True))  # her first sign-in

    assert _json(await asyncio.to_thread(accounts, "show", "--sub", sub)) == {
        "uid": derived_uid(ISSUER, sub),
        "issuer": ISSUER,
        "sub": sub,
        "email": new,
    }
    linked = _json(await asyncio.to_thread(accounts, "link", old, "--sub", sub))
    assert linked["uid"] == old and linked["previous_uid"] == derived_uid(ISSUER, sub) and linked["displaced"] is None
    assert (await links.link(Identity(issuer=ISSUER, sub=sub, email=new, email_vouched=True))).uid == old


async def test_a_record_another_account_claimed_is_taken_only_with_replace(accounts, links, user_repo):
    tag = uuid.uuid4().hex[:8]
    email = f"lou-{tag}@example.com"
    await user_repo.create(UserRecord(uid=email))
    await links.link(Identity(issuer=ISSUER, sub=f"2{tag}", email=email, email_vouched=True))

    refused = await asyncio.to_thread(accounts, "link", email, "--sub", f"3{tag}")
    assert refused.returncode == 2 and "--replace" in refused.stderr and email in refused.stderr
    taken = _json(await asyncio.to_thread(accounts, "link", email, "--sub", f"3{tag}", "--replace"))
    assert taken["uid"] == email and taken["displaced"] == {"sub": f"2{tag}", "email": email}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("link", "nobody-" + uuid.uuid4().hex, "--sub", "1"), "create it first"),
        (("link", "../../etc", "--sub", "1"), "user id"),
        (("link", "someone", "--sub", "has space"), "--sub takes"),
        (("link", "someone", "--sub", "x" * 300), "--sub takes"),
        (("show", "--sub", "1", "--issuer", "file:///etc/passwd"), "--issuer takes"),
        (("show", "--sub", "never-" + uuid.uuid4().hex), "never signed in"),
    ],
)
def test_bad_input_is_one_clear_error_line_and_exit_status_2(accounts, args, needle):
    done = accounts(*args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and needle in lines[0], done.stderr
    assert done.stdout == ""
