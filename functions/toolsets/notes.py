"""``notes``: the caller's own notes in Firestore (``users/{uid}/notes``), a template worth copying.

    create_note    idempotent with a client ``request_id``: a retried create returns the same note
    get_note       a foreign, guessed or deleted id answers exactly like a missing one
    list_notes     newest first, optional tag filter, cursor pagination
    update_note    optimistic concurrency: pass the ``version`` you read; a stale one is a conflict
    delete_note
    search_notes   by tag and/or title prefix (case-insensitive), cursor pagination

Each note is also the resource ``note://{id}``; the prompt ``summarize_notes``
embeds the caller's recent notes. Everything goes through ``user_store()``. Scopes are
declared beside each tool, resource and prompt, and store errors (not found, conflict,
unavailable) reach the client as MCP errors of the right kind: the framework does both.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, StringConstraints

from mcp_auth import Document, Toolset, UserCollection, prompt, resource, tool, user_store

READ, WRITE = "notes:read", "notes:write"
COLLECTION = "notes"
MAX_TAGS = 10

Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
NoteId = Annotated[str, Field(min_length=1, max_length=64, description="The note's id.")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, Field(max_length=20_000)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS, description="Lowercase tags (letters, digits, - and _).")]
Version = Annotated[str, Field(min_length=1, max_length=64, description="The version you read (from get_note).")]
Limit = Annotated[int, Field(ge=1, le=50, description="How many notes per page.")]
CursorArg = Annotated[str | None, Field(max_length=1024, description="next_cursor from the previous page.")]


class Note(BaseModel):
    id: str
    title: str
    body: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: str


class NoteSummary(BaseModel):
    id: str
    title: str
    tags: list[str]
    created_at: datetime
    version: str


class NotePage(BaseModel):
    notes: list[NoteSummary]
    next_cursor: str | None = Field(description="Pass it as cursor to get the next page; null on the last page.")


class Deleted(BaseModel):
    id: str
    deleted: bool


def _notes() -> UserCollection:
    return user_store().collection(COLLECTION)


def _note(doc: Document) -> Note:
    d = doc.data
    return Note(
        id=doc.id,
        title=d.get("title", ""),
        body=d.get("body", ""),
        tags=list(d.get("tags") or []),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        version=doc.version,
    )


def _summary(doc: Document) -> NoteSummary:
    d = doc.data
    return NoteSummary(
        id=doc.id,
        title=d.get("title", ""),
        tags=list(d.get("tags") or []),
        created_at=d["created_at"],
        version=doc.version,
    )


def _fields(title: str | None, body: str | None, tags: list[str] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if title is not None:
        fields |= {"title": title, "title_key": title.casefold()}
    if body is not None:
        fields["body"] = body
    if tags is not None:
        fields["tags"] = sorted(set(tags))
    return fields


async def create_note(
    title: Title,
    body: Body = "",
    tags: Tags | None = None,
    request_id: Annotated[
        str | None,
        Field(
            max_length=128,
            pattern=r"^[A-Za-z0-9._:-]+$",
            description="Your id for this request; a retry with it is safe.",
        ),
    ] = None,
) -> Note:
    """Create a note. Send a request_id to make retries safe (the same id returns the same note)."""
    return _note(await _notes().create(_fields(title, body, tags or []), request_id=request_id))


async def get_note(id: NoteId) -> Note:
    """Get one of your notes by id."""
    return _note(await _notes().get(id))


async def list_notes(tag: Tag | None = None, limit: Limit = 20, cursor: CursorArg = None) -> NotePage:
    """Your notes, newest first; optionally only those with a tag."""
    where = [("tags", "array_contains", tag)] if tag else []
    docs, next_cursor = await _notes().page(order_by="created_at", where=where, size=limit, cursor=cursor)
    return NotePage(notes=[_summary(d) for d in docs], next_cursor=next_cursor)


async def update_note(
    id: NoteId,
    version: Version,
    title: Title | None = None,
    body: Body | None = None,
    tags: Tags | None = None,
) -> Note:
    """Change a note's title, body or tags. Fails with a conflict if it changed since you read ``version``."""
    fields = _fields(title, body, tags)
    if not fields:
        return _note(await _notes().get(id))
    return _note(await _notes().update(id, fields, version=version))


async def delete_note(id: NoteId, version: Version | None = None) -> Deleted:
    """Delete a note (only if still at ``version``, when given)."""
    await _notes().delete(id, version=version)
    return Deleted(id=id, deleted=True)


async def search_notes(
    title_prefix: Annotated[str | None, Field(min_length=1, max_length=200)] = None,
    tag: Tag | None = None,
    limit: Limit = 20,
    cursor: CursorArg = None,
) -> NotePage:
    """Your notes whose title starts with ``title_prefix`` (any case) and/or that carry ``tag``."""
    if not title_prefix and not tag:
        raise ToolError("Give title_prefix, tag, or both.")
    where: list[Any] = [("tags", "array_contains", tag)] if tag else []
    order = "created_at"
    if title_prefix:
        key = title_prefix.casefold()
        where += [("title_key", ">=", key), ("title_key", "<", key + "\U0010ffff")]
        order = "title_key"
    docs, next_cursor = await _notes().page(
        order_by=order, descending=order == "created_at", where=where, size=limit, cursor=cursor
    )
    return NotePage(notes=[_summary(d) for d in docs], next_cursor=next_cursor)


async def note_resource(id: str) -> str:
    """The note as JSON (the same answer as get_note); a foreign or unknown id reads like a missing one."""
    return _note(await _notes().get(id)).model_dump_json()


async def summarize_notes(tag: str | None = None) -> str:
    """Ask the model to summarise your most recent notes (optionally those with a tag)."""
    where = [("tags", "array_contains", tag)] if tag else []
    docs, _ = await _notes().page(order_by="created_at", where=where, size=10)
    notes = [{"title": d.data.get("title"), "tags": d.data.get("tags"), "body": d.data.get("body")} for d in docs]
    if not notes:
        return "I have no notes yet. Tell me so, and suggest how I could start taking notes."
    return (
        "Summarise these notes of mine (newest first) in a few bullet points, grouping related ones "
        "and naming open questions:\n\n" + json.dumps(notes, ensure_ascii=False, indent=2)
    )


TOOLSET = Toolset(
    "notes",
    description="Your own notes: create, read, update, delete, search; each note is a resource too.",
    tools=[
        tool(create_note, scopes=[WRITE], strict=True, structured_output=True),
        tool(get_note, scopes=[READ], strict=True, structured_output=True),
        tool(list_notes, scopes=[READ], strict=True, structured_output=True),
        tool(update_note, scopes=[WRITE], strict=True, structured_output=True),
        tool(delete_note, scopes=[WRITE], strict=True, structured_output=True),
        tool(search_notes, scopes=[READ], strict=True, structured_output=True),
    ],
    resources=[
        resource(
            note_resource,
            "note://{id}",
            name="note",
            description="One of your notes, as JSON.",
            mime_type="application/json",
            scopes=[READ],
        )
    ],
    prompts=[prompt(summarize_notes, scopes=[READ])],
)
