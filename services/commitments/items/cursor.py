"""The opaque cursor of the item listing: the sort order and the (sort value, id) of the last row of a page.

A cursor comes back from the caller, so it is read as hostile input: anything that is not a cursor this
service could have written — wrong base64, JSON or types, another sort, text the database can't hold (NUL,
lone surrogates), oversized or deeply nested values — is a 400 problem, and nothing of it reaches SQL.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.problems import DomainError

# A title is at most 300 characters, 4 UTF-8 bytes each at worst; base64 adds a third. Long enough for any
# cursor this service writes, short enough that a hostile one costs nothing to refuse.
MAX_CURSOR_LENGTH = 2048
_MAX_TITLE_LENGTH = 300


class InvalidCursor(DomainError):
    status, code, title = 400, "invalid-cursor", "Curseur de pagination invalide"


class _Cursor(BaseModel):
    """What a cursor holds; strict, so that a number is never read as text or a list as anything."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    s: str = Field(max_length=20)
    v: str | None = Field(max_length=4 * _MAX_TITLE_LENGTH)
    id: uuid.UUID


def encode_cursor(sort: str, value: Any, item_id: uuid.UUID) -> str:
    """The cursor after the row (value, item_id) in the order `sort` (value: a title, an aware datetime or,
    for the creation order, nothing)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = _Cursor.model_construct(s=sort, v=None if sort.lstrip("-") == "created" else value, id=item_id)
    # UTF-8 rather than \\u escapes: a title of accented letters stays well under MAX_CURSOR_LENGTH.
    raw = payload.model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    """The (sort value, id) a cursor of the order `sort` stands for, or InvalidCursor."""
    try:
        return _read(cursor, sort)
    except (
        ValueError,
        TypeError,
        RecursionError,
    ) as exc:  # ValidationError and binascii.Error are ValueErrors
        raise InvalidCursor(
            "cursor : curseur de pagination invalide (ou obtenu avec un autre tri) ; "
            "reprenez la liste depuis la première page."
        ) from exc


def _read(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("too long")
    # Only the URL-safe alphabet: the lenient decoder would skip unknown characters instead of refusing them.
    raw = base64.b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    try:
        payload = _Cursor.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError("not a cursor") from exc
    if payload.s != sort:
        raise ValueError("written for another order")
    key = sort.lstrip("-")
    if key == "created":
        if payload.v is not None:
            raise ValueError("the creation order carries no value")
        return None, payload.id
    if payload.v is None:
        raise ValueError("missing value")
    if key == "updated":
        value = datetime.fromisoformat(payload.v)
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value, payload.id
    if key == "title":
        _storable_title(payload.v)
        return payload.v, payload.id
    raise ValueError("unknown order")


def _storable_title(title: str) -> None:
    # A title the database could hold: PostgreSQL refuses NUL in text, and neither engine stores a lone
    # surrogate; a cursor carrying one was not written here.
    if len(title) > _MAX_TITLE_LENGTH or "\x00" in title:
        raise ValueError("not a title")
    title.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
