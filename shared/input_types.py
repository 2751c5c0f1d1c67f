"""Annotated pydantic types for request bodies: text that is safe to store, print in a header or a letter."""

from __future__ import annotations

import re
import types
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2200, 12, 31)


def _encodable(value: str) -> str:
    # Lone surrogates ("\ud800") pass JSON parsing but can't be stored as UTF-8 by PostgreSQL or SQLite.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("le texte contient un caractère Unicode invalide (surrogate isolé)") from exc
    if "\x00" in value:
        raise ValueError("le texte contient un caractère NUL")
    return value


def _multi_line(value: str) -> str:
    value = _encodable(value)
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in "\n\t\r":
            raise ValueError(f"le texte contient un caractère de contrôle interdit (U+{ord(char):04X})")
    return value


def _single_line(value: str) -> str:
    value = _encodable(value)
    for char in value:
        # CR/LF/NEL and the Unicode line and paragraph separators would split a mail header or a CSV line.
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"le texte doit tenir sur une ligne, sans caractère de contrôle (U+{ord(char):04X})"
            )
    return value


def _deliverable_mailbox(value: str) -> str:
    # email-validator only checks RFC 5321's 64-octet local part in its strict mode, which pydantic doesn't
    # use; mail servers refuse longer ones, so a reminder to such an address would bounce.
    if len(value.rpartition("@")[0].encode("utf-8")) > 64:
        raise ValueError("la partie avant @ de l'adresse dépasse 64 octets")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: Any) -> Any:
    # Lax pydantic reads 0 or "1700006400" as a Unix timestamp and "2026-03-02T00:00:00Z" as a date: a client
    # sending those has a bug to be told about, not a date to be guessed for it.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise PydanticCustomError("date_type", "Input should be a date written YYYY-MM-DD")


def _in_date_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"la date doit être comprise entre {EARLIEST_DATE} et {LATEST_DATE}")
    return value


SingleLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), AfterValidator(_single_line)
]
# Sized to the columns that store them (a longer value would be a database error, not a 422).
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_single_line)
]
Marker = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10), AfterValidator(_single_line)
]
ShortCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), AfterValidator(_single_line)
]
MultiLine = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_multi_line)]
Email = Annotated[
    EmailStr,
    StringConstraints(max_length=254),
    AfterValidator(_single_line),
    AfterValidator(_deliverable_mailbox),
]
BoundedDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_in_date_range)]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https?://[^\s\x00-\x1f]+$"),
    AfterValidator(_single_line),
]
QueryText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_single_line)
]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
StrictFlag = Annotated[bool, Strict()]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), max_digits=15, decimal_places=2)]


def _strict_scalar(annotation: Any) -> type | None:
    """`bool` or `int` when that is what a field holds (optionally None), else None."""
    candidates = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    kinds = {get_args(c)[0] if get_origin(c) is Annotated else c for c in candidates} - {type(None)}
    return kinds.pop() if len(kinds) == 1 and kinds <= {bool, int} else None


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are an error; numbers and flags are never coerced from text."""

    model_config = ConfigDict(extra="forbid", str_max_length=20_000)

    @field_validator("*", mode="before")
    @classmethod
    def _no_coerced_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        # Lax mode reads "yes", "off", 0 or 1 as a flag and "40" or 40.0 as a number: a typo in a client must
        # not flip a switch. Schemas declare plain `bool`/`int`, so the rule lives here for all of them.
        if value is None or info.field_name is None:
            return value
        expected = _strict_scalar(cls.model_fields[info.field_name].annotation)
        if expected is bool and not isinstance(value, bool):
            raise PydanticCustomError("bool_type", "Input should be a valid boolean (true or false)")
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return value
