"""``UserCollection`` on the emulator: idempotent creates, optimistic concurrency, cursor pages, isolation."""

from __future__ import annotations

import asyncio

import pytest

from mcp_auth.store.documents import Conflict, InvalidRequestId, NotFound
from mcp_auth.store.pagination import MAX_PAGE_SIZE, InvalidCursor


async def test_a_repeated_request_id_returns_the_first_document_instead_of_a_duplicate(new_store):
    notes = (await new_store()).collection("notes")
    first = await notes.create({"title": "a"}, request_id="req-1")
    again = await notes.create({"title": "a"}, request_id="req-1")
    assert again.id == first.id and again.version == first.version
    page, _ = await notes.page(order_by="created_at")
    assert [d.id for d in page] == [first.id]


async def test_a_malformed_request_id_is_refused():
    from mcp_auth.store.documents import document_id

    with pytest.raises(InvalidRequestId):
        document_id("notes", "a/b")


async def test_a_stale_version_is_a_conflict_and_the_newer_write_survives(new_store):
    notes = (await new_store()).collection("notes")
    doc = await notes.create({"title": "v0"})
    newer = await notes.update(doc.id, {"title": "v1"}, version=doc.version)
    with pytest.raises(Conflict):
        await notes.update(doc.id, {"title": "stale"}, version=doc.version)
    assert (await notes.get(doc.id)).data["title"] == "v1"
    assert (await notes.get(doc.id)).version == newer.version


async def test_concurrent_updates_from_one_version_end_with_one_success_and_one_conflict(new_store):
    notes = (await new_store()).collection("notes")
    doc = await notes.create({"title": "v0"})
    results = await asyncio.gather(
        *(notes.update(doc.id, {"title": f"edit-{i}"}, version=doc.version) for i in range(2)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert (await notes.get(doc.id)).data["title"] == wins[0].data["title"]


async def test_delete_with_a_stale_version_is_a_conflict_and_keeps_the_document(new_store):
    notes = (await new_store()).collection("notes")
    doc = await notes.create({"title": "v0"})
    await notes.update(doc.id, {"title": "v1"}, version=doc.version)
    with pytest.raises(Conflict):
        await notes.delete(doc.id, version=doc.version)
    await notes.delete(doc.id)
    with pytest.raises(NotFound):
        await notes.get(doc.id)


@pytest.mark.parametrize("doc_id", ["../x", "a/b", "", "x" * 65, "__id__", "é"])
async def test_malformed_ids_answer_like_missing_ones(new_store, doc_id):
    notes = (await new_store()).collection("notes")
    with pytest.raises(NotFound) as malformed:
        await notes.get(doc_id)
    with pytest.raises(NotFound) as missing:
        await notes.get("a" * 24)
    assert str(malformed.value) == str(missing.value)


async def test_another_users_document_id_answers_like_a_missing_one(new_store):
    alice, bob = await new_store(), await new_store()
    secret = await alice.collection("notes").create({"title": "alice"})
    for call in (
        bob.collection("notes").get(secret.id),
        bob.collection("notes").delete(secret.id),
        bob.collection("notes").update(secret.id, {"title": "x"}, version=secret.version),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await alice.collection("notes").get(secret.id)).data["title"] == "alice"


async def test_pages_walk_every_document_once_newest_first(new_store):
    notes = (await new_store()).collection("notes")
    created = [await notes.create({"title": f"n{i}"}) for i in range(7)]
    seen, cursor = [], None
    while True:
        page, cursor = await notes.page(order_by="created_at", size=3, cursor=cursor)
        seen += [d.id for d in page]
        if cursor is None:
            break
    assert seen == [d.id for d in reversed(created)]


async def test_page_sizes_are_capped_and_cursors_are_checked(new_store):
    notes = (await new_store()).collection("notes")
    for i in range(2):
        await notes.create({"title": f"n{i}"})
    page, _ = await notes.page(order_by="created_at", size=10_000)
    assert len(page) == 2 and MAX_PAGE_SIZE < 10_000
    _, cursor = await notes.page(order_by="created_at", size=1)
    with pytest.raises(InvalidCursor):
        await notes.page(order_by="title", cursor=cursor)  # issued for another ordering
    with pytest.raises(InvalidCursor):
        await notes.page(order_by="created_at", cursor="not-a-cursor")


async def test_collection_names_are_single_identifiers(new_store):
    store = await new_store()
    for name in ("notes/x/notes", "../users", "", "Notes"):
        with pytest.raises(ValueError, match="lowercase identifiers"):
            store.collection(name)


async def test_settings_updates_are_conditional_on_the_version(new_store):
    store = await new_store({"timezone": "UTC"})
    settings, version = await store.settings()
    assert settings == {"timezone": "UTC"}
    updated, newer = await store.update_settings({"timezone": "Europe/Paris", "language": "fr"}, version=version)
    assert updated == {"timezone": "Europe/Paris", "language": "fr"}
    with pytest.raises(Conflict):
        await store.update_settings({"timezone": "UTC"}, version=version)
    removed, _ = await store.update_settings({"language": None}, version=newer)
    assert removed == {"timezone": "Europe/Paris"} == (await store.settings())[0]
