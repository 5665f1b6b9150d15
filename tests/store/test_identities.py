"""Identity links on the Firestore emulator: an account (issuer + sub) keeps its user record whatever
its email becomes, and an email address never hands one account's record to another."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mcp_auth.errors import UnknownUser
from mcp_auth.store.documents import NotFound
from mcp_auth.store.handle import UserStore
from mcp_auth.store.identities import AlreadyClaimed, Identity, IdentityLinks, derived_uid
from mcp_auth.store.users import UserRecord, UserRepository, validate_uid
from tests.store.warmup import warm


@pytest.fixture
async def links(user_repo: UserRepository) -> IdentityLinks:
    await warm(user_repo)
    return IdentityLinks(user_repo._client)


@pytest.fixture
def issuer() -> str:
    """An issuer of this test's own, so its accounts are linked nowhere else."""
    return f"https://idp-{uuid.uuid4().hex[:8]}.example"


def _email(name: str = "ann") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def _account(issuer: str, sub: str, email: str, *, vouched: bool = True) -> Identity:
    return Identity(issuer=issuer, sub=sub, email=email, email_vouched=vouched)


async def test_a_new_account_gets_an_opaque_uid_derived_from_issuer_and_sub(links, issuer):
    email = _email()
    link = await links.link(_account(issuer, "1001", email))
    assert link.uid == derived_uid(issuer, "1001") == validate_uid(link.uid)
    assert email.split("@")[0] not in link.uid and link.uid != derived_uid(issuer, "1002")
    assert derived_uid(issuer, "1001") != derived_uid(f"{issuer}/other", "1001")
    assert (await links.get(issuer, "1001")) == link and link.email == email


async def test_a_linked_account_keeps_its_uid_after_its_email_changes(links, issuer, user_repo):
    before, after = _email("bea"), _email("bea.new")
    first = await links.link(_account(issuer, "2001", before))
    await user_repo.create(UserRecord(uid=first.uid, toolsets=frozenset({"notes"})))
    await user_repo.create(UserRecord(uid=after))  # a record named by the new address changes nothing
    again = await links.link(_account(issuer, "2001", after))
    assert again.uid == first.uid
    assert (await links.get(issuer, "2001")).email == after  # the attribute follows the provider


async def test_a_record_keyed_by_email_is_claimed_once_and_never_handed_to_a_second_account(links, issuer, user_repo):
    email = _email("cat")
    await user_repo.create(UserRecord(uid=email, toolsets=frozenset({"notes"})))  # legacy or pre-provisioned
    note = await UserStore(user_repo._client, email).collection("notes").create({"title": "private"})

    owner = await links.link(_account(issuer, "3001", email))
    assert owner.uid == email and await links.owner(email) == owner.key
    assert (await links.link(_account(issuer, "3001", email))).uid == email  # the owner again: same record

    newcomer = await links.link(_account(issuer, "3002", email))  # the address was given to someone else
    assert newcomer.uid == derived_uid(issuer, "3002") != email
    assert await user_repo.get(newcomer.uid) is None
    with pytest.raises(NotFound):
        await UserStore(user_repo._client, newcomer.uid).collection("notes").get(note.id)
    assert await links.owner(email) == owner.key


async def test_an_address_the_provider_does_not_vouch_for_claims_no_record(links, issuer, user_repo):
    email = _email("dan")
    await user_repo.create(UserRecord(uid=email))
    link = await links.link(_account(issuer, "4001", email, vouched=False))
    assert link.uid == derived_uid(issuer, "4001") and await links.owner(email) is None


async def test_an_address_that_cannot_be_a_document_id_links_to_a_derived_uid(links, issuer):
    link = await links.link(_account(issuer, "4101", f"o'brien/{uuid.uuid4().hex[:6]}@example.com"))
    assert link.uid == derived_uid(issuer, "4101")


async def test_looking_up_where_an_account_would_land_writes_nothing(links, issuer, user_repo):
    email = _email("eve")
    await user_repo.create(UserRecord(uid=email))
    assert await links.resolve(_account(issuer, "5001", email)) == (email, True)
    assert await links.resolve(_account(issuer, "5002", _email("eve"))) == (derived_uid(issuer, "5002"), False)
    assert await links.get(issuer, "5001") is None and await links.owner(email) is None


async def test_concurrent_first_sign_ins_of_one_account_agree_on_one_uid(links, issuer, user_repo):
    email = _email("fay")
    await user_repo.create(UserRecord(uid=email))
    claimed = await asyncio.gather(*(links.link(_account(issuer, "6001", email)) for _ in range(6)))
    fresh = await asyncio.gather(*(links.link(_account(issuer, "6002", _email("gus"))) for _ in range(6)))
    assert {link.uid for link in claimed} == {email}
    assert {link.uid for link in fresh} == {derived_uid(issuer, "6002")}


async def test_two_accounts_racing_for_one_address_get_the_record_exactly_once(links, issuer, user_repo):
    email = _email("hal")
    await user_repo.create(UserRecord(uid=email))
    results = await asyncio.gather(*(links.link(_account(issuer, f"70{n:02d}", email)) for n in range(6)))
    winners = [link for link in results if link.uid == email]
    assert len(winners) == 1 and await links.owner(email) == winners[0].key
    assert all(link.uid == derived_uid(issuer, link.sub) for link in results if link is not winners[0])


async def test_an_administrator_links_an_account_to_the_record_of_its_old_address(links, issuer, user_repo):
    old, new = _email("ida"), _email("ida.renamed")
    await user_repo.create(UserRecord(uid=old, toolsets=frozenset({"notes"})))
    first = await links.link(_account(issuer, "8001", new))  # signed in under the new address: a fresh uid
    assert first.uid == derived_uid(issuer, "8001")

    done = await links.assign(issuer=issuer, sub="8001", uid=old)
    assert done.previous_uid == first.uid and done.displaced is None and done.link.email == new
    assert (await links.link(_account(issuer, "8001", new))).uid == old
    assert (await links.link(_account(issuer, "8002", old))).uid != old  # the old address no longer claims it


async def test_taking_a_record_from_another_account_needs_replace(links, issuer, user_repo):
    email = _email("jo")
    await user_repo.create(UserRecord(uid=email))
    holder = await links.link(_account(issuer, "9001", email))
    with pytest.raises(AlreadyClaimed, match=email):
        await links.assign(issuer=issuer, sub="9002", uid=email)
    with pytest.raises(UnknownUser):
        await links.assign(issuer=issuer, sub="9002", uid=_email("nobody"))

    done = await links.assign(issuer=issuer, sub="9002", uid=email, replace=True)
    assert done.displaced == holder and done.previous_uid is None
    assert (await links.link(_account(issuer, "9002", _email("jo.other")))).uid == email
    assert (await links.link(_account(issuer, "9001", email))).uid == derived_uid(issuer, "9001")
