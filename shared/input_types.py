"""Annotated pydantic types for request bodies: text that is safe to store, print in a header or a letter."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, Strict, StringConstraints

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
            raise ValueError(f"le texte doit tenir sur une ligne, sans caractère de contrôle (U+{ord(char):04X})")
    return value


def _in_date_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"la date doit être comprise entre {EARLIEST_DATE} et {LATEST_DATE}")
    return value


SingleLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
                       AfterValidator(_single_line)]
ShortCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
                      AfterValidator(_single_line)]
MultiLine = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_multi_line)]
Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(_single_line)]
BoundedDate = Annotated[date, AfterValidator(_in_date_range)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000,
                                       pattern=r"^https?://[^\s\x00-\x1f]+$"), AfterValidator(_single_line)]
QueryText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_single_line)]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
StrictFlag = Annotated[bool, Strict()]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), max_digits=15, decimal_places=2)]


class InputModel(BaseModel):
    """Base of request bodies: unknown fields are an error; numbers and flags are never coerced from text."""

    model_config = ConfigDict(extra="forbid", str_max_length=20_000)
