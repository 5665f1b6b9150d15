"""The indexes declared in ``lib/mcp_auth/store/indexes.json`` (which Terraform reads) serve the
queries the notes toolset runs: each declared index's query runs on the emulator, and every
multi-field query shape the toolset uses has a declared index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mcp_auth.store

INDEXES = json.loads((Path(mcp_auth.store.__file__).parent / "indexes.json").read_text())
COMPOSITES = INDEXES["composite_indexes"]

# (equality/array filters, order field, direction) of each notes query that needs a composite index
NOTES_QUERIES = [
    ((("tags", "CONTAINS"),), "created_at", "DESCENDING"),  # list_notes(tag=...), summarize_notes(tag=...)
    ((("tags", "CONTAINS"),), "title_key", "ASCENDING"),  # search_notes(title_prefix=..., tag=...)
]


def _shape(index: dict) -> tuple:
    fields = index["fields"]
    filters = tuple((f["field_path"], f["array_config"]) for f in fields if "array_config" in f)
    ordered = [f for f in fields if "order" in f and f["field_path"] != "__name__"]
    return filters, ordered[0]["field_path"], ordered[0]["order"]


def test_every_declared_index_is_well_formed_for_terraform():
    for index in COMPOSITES:
        assert set(index) == {"name", "collection", "query_scope", "fields"}
        assert index["query_scope"] in ("COLLECTION", "COLLECTION_GROUP")
        assert index["fields"][-1]["field_path"] == "__name__"  # the stable tie-breaker the cursors use
        for field in index["fields"]:
            assert len(set(field) & {"order", "array_config"}) == 1
    assert len({i["name"] for i in COMPOSITES}) == len(COMPOSITES)


def test_every_notes_query_shape_has_a_declared_index():
    declared = {_shape(i) for i in COMPOSITES if i["collection"] == "notes"}
    assert set(NOTES_QUERIES) <= declared


NOTES_INDEXES = [i for i in COMPOSITES if i["collection"] == "notes"]  # audit's: tests/e2e/test_audit_firestore.py


@pytest.mark.parametrize("index", NOTES_INDEXES, ids=[i["name"] for i in NOTES_INDEXES])
async def test_the_query_each_index_serves_runs_on_the_emulator(new_store, index):
    notes = (await new_store()).collection(index["collection"])
    for title, tags in (("alpha", ["t"]), ("beta", ["t"]), ("gamma", [])):
        await notes.create({"title": title, "title_key": title, "tags": tags})
    filters, order, direction = _shape(index)
    where = [(field, "array_contains", "t") for field, _ in filters]
    docs, _ = await notes.page(order_by=order, descending=direction == "DESCENDING", where=where, size=10)
    titles = [d.data["title"] for d in docs]
    assert sorted(titles) == ["alpha", "beta"]
    assert titles == (["beta", "alpha"] if direction == "DESCENDING" else ["alpha", "beta"])
