"""The item listing's cursor: what it writes it reads back; anything else — however hostile — is InvalidCursor
(a 400 problem), never another exception, and never a value the database could not take."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.commitments.items.cursor import MAX_CURSOR_LENGTH, InvalidCursor, decode_cursor, encode_cursor

SORTS = ["created", "-created", "title", "-title", "updated", "-updated"]
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_refused_or_storable(cursor: str, sort: str) -> None:
    """Either InvalidCursor, or a value of the right type that PostgreSQL can hold."""
    try:
        value, item_id = decode_cursor(cursor, sort)
    except InvalidCursor as exc:
        assert exc.status == 400 and exc.code == "invalid-cursor" and "cursor" in exc.detail
        return
    assert isinstance(item_id, uuid.UUID)
    key = sort.lstrip("-")
    if key == "created":
        assert value is None
    elif key == "updated":
        assert isinstance(value, datetime) and value.tzinfo is not None
    else:
        assert isinstance(value, str) and "\x00" not in value and len(value) <= 300
        value.encode("utf-8")


# ------------------------------------------------------------------------------------------------ round trip

titles = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=300)
# Naive bounds, as hypothesis wants them beside `timezones` (which makes the values aware).
EARLIEST, LATEST = datetime(1970, 1, 1), datetime(2200, 1, 1)  # noqa: DTZ001
aware = st.datetimes(
    min_value=EARLIEST, max_value=LATEST, timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])
)


@FUZZ
@given(sort=st.sampled_from(SORTS), title=titles, updated=aware, item_id=st.uuids())
@example(
    sort="title", title="\U0010ffff" * 300, updated=datetime(2026, 1, 1, tzinfo=UTC), item_id=uuid.UUID(int=0)
)
def test_every_cursor_written_is_read_back(
    sort: str, title: str, updated: datetime, item_id: uuid.UUID
) -> None:
    key = sort.lstrip("-")
    value = {"created": None, "title": title, "updated": updated}[key]
    cursor = encode_cursor(sort, value, item_id)
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert decode_cursor(cursor, sort) == (value, item_id)


@pytest.mark.parametrize("sort", SORTS)
def test_a_cursor_of_another_order_is_refused(sort: str) -> None:
    value = {"created": None, "title": "Titre", "updated": datetime(2026, 3, 2, tzinfo=UTC)}[sort.lstrip("-")]
    cursor = encode_cursor(sort, value, uuid.uuid4())
    for other in set(SORTS) - {sort}:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, other)


# ---------------------------------------------------------------------------------------------------- hostile

HOSTILE = {
    "empty": "",
    "not base64": "!!!",
    "padding inside": "ab=c",
    "non-ASCII": "é",
    "NUL": "\x00",
    "lone surrogate": "\ud800",
    "replacement character": "\ufffd",
    "standard base64 alphabet": "+/+/",
    "too long": "A" * (MAX_CURSOR_LENGTH + 1),
    "not JSON": b64(b"not json"),
    "invalid UTF-8": b64(b"\xff\xfe\xfd"),
    "UTF-8 encoded surrogate": b64(
        b'{"s": "title", "v": "\xed\xa0\x80", "id": "' + str(uuid.UUID(int=1)).encode() + b'"}'
    ),
    "JSON list": b64(b"[1]"),
    "JSON null": b64(b"null"),
    "JSON string": b64(b'"created"'),
    "JSON number": b64(b"1" * 1000),
    "deep nesting": b64(b"[" * 1500),
    "deep object": b64(b'{"s":' * 300),
}


@pytest.mark.parametrize("label", list(HOSTILE))
def test_hostile_text_is_refused(label: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(HOSTILE[label], "created")


GOOD_ID = str(uuid.UUID(int=7))
WRONG_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64,
    10**400,
    1e308,
    "",
    "x" * 5000,
    [],
    [GOOD_ID],
    {},
    {"id": GOOD_ID},
    "2026-03-02T09:00:00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
]


@pytest.mark.parametrize("field", ["s", "v", "id"])
@pytest.mark.parametrize("sort", ["created", "title", "updated"])
@pytest.mark.parametrize("wrong", WRONG_VALUES, ids=repr)
def test_wrong_type_or_value_in_a_field_is_refused_or_harmless(field: str, sort: str, wrong: Any) -> None:
    good = {
        "s": sort,
        "v": {"created": None, "title": "Titre", "updated": "2026-03-02T09:00:00+00:00"}[sort],
        "id": GOOD_ID,
    }
    # ensure_ascii escapes lone surrogates as \ud800, the way a hostile client would send them in JSON.
    cursor = b64(json.dumps({**good, field: wrong}).encode())
    assert_refused_or_storable(cursor, sort)
    harmless = field == "v" and (
        (sort == "created" and wrong is None) or (sort == "title" and wrong in ("", "2026-03-02T09:00:00"))
    )
    if not harmless:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, sort)


def test_extra_and_missing_fields_are_refused() -> None:
    good = {"s": "title", "v": "Titre", "id": GOOD_ID}
    assert decode_cursor(b64(json.dumps(good).encode()), "title") == ("Titre", uuid.UUID(GOOD_ID))
    for name in good:
        with pytest.raises(InvalidCursor):
            decode_cursor(b64(json.dumps({k: v for k, v in good.items() if k != name}).encode()), "title")
    with pytest.raises(InvalidCursor):
        decode_cursor(b64(json.dumps({**good, "extra": 1}).encode()), "title")


# JSON values of every shape, nested, with the text the database refuses.
json_text = st.text(st.characters(codec=None), max_size=50) | st.sampled_from(["\x00", "\ud800", "a\udc00"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(json_text, children, max_size=5),
    max_leaves=30,
)
cursor_like = st.fixed_dictionaries(
    {"s": st.sampled_from(SORTS) | json_values, "v": json_values, "id": st.uuids().map(str) | json_values},
    optional={"extra": json_values},
)


@FUZZ
@given(sort=st.sampled_from(SORTS), payload=cursor_like)
def test_fuzzed_payloads_are_refused_or_storable(sort: str, payload: dict[str, Any]) -> None:
    assert_refused_or_storable(b64(json.dumps(payload).encode()), sort)


@FUZZ
@given(sort=st.sampled_from(SORTS), raw=st.binary(max_size=2000))
def test_base64_of_garbage_is_refused_or_storable(sort: str, raw: bytes) -> None:
    assert_refused_or_storable(b64(raw), sort)


@FUZZ
@given(sort=st.sampled_from(SORTS), text=st.text(st.characters(codec=None), max_size=3000))
def test_arbitrary_text_is_refused_or_storable(sort: str, text: str) -> None:
    assert_refused_or_storable(text, sort)
