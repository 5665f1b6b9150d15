"""The revocation feed on the emulator: what each change announces, and what a following cache does with it.

A real ``RevocationWatch`` listens to the emulator; changes are made with the repositories the CLI uses.
Waiting is for the event itself (polled, with a generous bound), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from mcp_auth.errors import DisabledUser
from mcp_auth.oauth.store import OAuthStore
from mcp_auth.principal import Principal
from mcp_auth.store.api_keys import ApiKeyRepository
from mcp_auth.store.erasure import UserData
from mcp_auth.store.revocations import REVOCATIONS, STALE_AFTER, RevocationWatch
from mcp_auth.store.users import USERS, UserDirectory, UserRecord, UserRepository
from tests._fixtures.clock import ManualClock
from tests._fixtures.firestore import TEST_PROJECT
from tests.store.warmup import warm


@pytest.fixture
async def watch(user_repo: UserRepository) -> AsyncIterator[RevocationWatch]:
    await warm(user_repo)
    running = RevocationWatch(project=TEST_PROJECT, database="(default)")
    running.start()
    await _until(lambda: running.live, "the listener never went live")
    yield running
    running.stop()


async def _until(condition: Callable[[], bool], message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.02)


@pytest.fixture
def heard(watch: RevocationWatch) -> list[str | None]:
    """The users the watch told its followers to forget, in order."""
    names: list[str | None] = []
    watch.subscribe(names.append)
    return names


async def _user(repo: UserRepository, **fields: object) -> str:
    uid = f"rev-{uuid.uuid4().hex[:10]}"
    await repo.create(UserRecord(uid=uid, scopes=frozenset({"mcp:tools"}), toolsets=frozenset({"basics"})))
    return uid


async def test_a_live_listener_has_settled_the_processs_start_up_objects(watch):
    import gc

    from mcp_auth import heap

    assert watch.live
    assert heap.settle(heap.LISTENER) is False  # the listener's start did it, once per process
    assert gc.get_freeze_count() > 0


async def test_every_record_change_and_key_revocation_is_heard(user_repo, watch, heard):
    uid = await _user(user_repo)
    assert uid not in heard  # creating a record takes nothing away
    await user_repo.update(uid, status="disabled")
    await _until(lambda: heard.count(uid) == 1, "disable was not heard")
    await user_repo.change(uid, "scopes", ["mcp:tools"], remove=True)
    await _until(lambda: heard.count(uid) == 2, "a withdrawn scope was not heard")
    record = await user_repo.sign_out(uid)
    assert record.tokens_valid_after is not None and abs(record.tokens_valid_after - time.time()) < 60
    await _until(lambda: heard.count(uid) == 3, "sign-out was not heard")
    keys = ApiKeyRepository(user_repo._client)
    key, _ = await keys.create(uid=uid, scopes=[], name="k", expires_at=None, pepper=b"p" * 32)
    assert await keys.revoke(key.key_id)
    await _until(lambda: heard.count(uid) == 4, "a revoked key was not heard")
    assert not await keys.revoke("0" * 16)  # no such key: nothing announced
    assert await user_repo.delete(uid)
    await _until(lambda: heard.count(uid) == 5, "a deleted record was not heard")


async def test_erasure_announces_no_one_and_every_follower_forgets_everyone(user_repo, watch, heard):
    uid = await _user(user_repo)
    await user_repo.update(uid, status="disabled")
    await UserData(user_repo._client, uid).erase()
    await _until(lambda: None in heard, "the erasure was not heard")
    events = [s.to_dict() async for s in user_repo._client.collection(REVOCATIONS).stream()]
    assert not [e for e in events if e.get("uid") == uid]  # the user's own events went with the erasure


async def test_a_following_directory_meets_a_change_at_once_despite_a_long_cache(user_repo, watch):
    directory = UserDirectory(user_repo, cache_ttl=600)
    directory.follow(watch)
    uid = await _user(user_repo)
    assert (await directory.load(uid)).active
    applied = watch.applied
    await user_repo.update(uid, status="disabled")
    await _until(lambda: watch.applied > applied, "the change was not applied")
    with pytest.raises(DisabledUser):
        await directory.load(uid)


async def test_without_a_live_watch_a_cached_record_is_trusted_only_briefly(user_repo):
    clock = ManualClock()
    idle = RevocationWatch(project=TEST_PROJECT, database="(default)")  # never started: not live
    directory = UserDirectory(user_repo, cache_ttl=600, clock=clock.monotonic)
    directory.follow(idle)
    uid = await _user(user_repo)
    await directory.load(uid)
    # a change nobody announced (written around the repository): only re-reading can find it
    await user_repo._client.collection(USERS).document(uid).update({"status": "disabled"})
    clock.advance(STALE_AFTER - 1)
    assert (await directory.load(uid)).active  # young enough to trust
    clock.advance(2)
    with pytest.raises(DisabledUser):
        await directory.load(uid)


async def test_sign_out_ends_every_sign_in_of_the_user_and_no_other(user_repo):
    oauth = OAuthStore(user_repo._client)
    mine = [await oauth.new_family("alice-signout", "client-1", 600) for _ in range(3)]
    theirs = await oauth.new_family("bob-signout", "client-1", 600)
    assert await oauth.revoke_user_families("alice-signout", page=2) == 3  # two pages
    assert not any([await oauth.family_active(f) for f in mine])
    assert await oauth.family_active(theirs)
    assert await oauth.revoke_user_families("alice-signout") == 0


def test_a_credential_predating_the_sign_out_is_refused_and_a_later_one_is_not():
    record = UserRecord(uid="u", tokens_valid_after=1_000.5)
    assert record.issued_before_sign_out(999.0)
    assert record.issued_before_sign_out(1_000.0)  # iat is whole seconds: the sign-out's own second is refused
    assert not record.issued_before_sign_out(1_001.0)
    assert record.issued_before_sign_out(None)  # unknown issue time: refused once there is a sign-out
    assert not UserRecord(uid="u").issued_before_sign_out(None)


def test_the_issue_time_comes_from_iat_unless_given():
    assert Principal(user_id="u", auth_method="jwt", claims={"iat": 1234}).issued_at == 1234.0
    assert Principal(user_id="u", auth_method="jwt", claims={"iat": True}).issued_at is None
    assert Principal(user_id="u", auth_method="jwt", claims={"iat": "1234"}).issued_at is None
    assert Principal(user_id="u", auth_method="api_key", issued_at=5.0, claims={"iat": 9}).issued_at == 5.0
