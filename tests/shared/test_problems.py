"""Every error a person reads is French problem+json: pydantic's validation errors by type, unreadable bodies
(400), and the errors Starlette raises itself (404, 405)."""

from __future__ import annotations

import re
import string
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from shared.input_types import BoundedDate, InputModel, Percent, SingleLine, StrictFlag
from shared.problems import install_problem_handlers
from shared.validation_messages import FALLBACK, MESSAGES, french_message
from tests.french import ENGLISH, english_in

# ------------------------------------------------------------------------------------------------- the table

SAMPLE_CONTEXT = {
    "min_length": 1,
    "max_length": 300,
    "actual_length": 0,
    "pattern": "^[0-9]{14}$",
    "expected": "'draft', 'sent' or 'done'",
    "gt": 0,
    "ge": 0,
    "lt": 100,
    "le": 100,
    "multiple_of": 5,
    "max_digits": 15,
    "decimal_places": 2,
    "whole_digits": 13,
    "discriminator": "'kind'",
    "expected_tags": "'a', 'b'",
    "tz_expected": 0,
    "expected_version": 7,
    "expected_schemes": "'http' or 'https'",
    "field_type": "List",
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_every_type_in_the_table_reads_french(kind: str) -> None:
    placeholders = {name for _, name, _, _ in string.Formatter().parse(MESSAGES[kind]) if name}
    assert placeholders <= set(SAMPLE_CONTEXT), (
        f"{kind}: unknown context {placeholders - set(SAMPLE_CONTEXT)}"
    )
    message = french_message({"type": kind, "msg": "English", "ctx": dict(SAMPLE_CONTEXT)})
    assert not re.search(r"\{[a-z_]+\}", message) and not ENGLISH.search(message.replace("'", "")), message
    # Without its context (a custom error reusing the type), still a sentence.
    assert not re.search(r"\{[a-z_]+\}", french_message({"type": kind, "msg": "English"}))


def test_every_error_type_pydantic_knows_is_in_the_table_or_falls_back_to_french() -> None:
    from typing import get_args

    from pydantic_core.core_schema import ErrorType

    for kind in get_args(ErrorType):
        message = french_message(
            {"type": kind, "msg": "Input should be English", "ctx": dict(SAMPLE_CONTEXT)}
        )
        assert message and "Input should" not in message, kind
    assert french_message({"type": "some_future_type", "msg": "Input should be new"}) == FALLBACK


# ---------------------------------------------------------------------------------- real errors from pydantic


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Cat(BaseModel):
    kind: Literal["cat"]


class Dog(BaseModel):
    kind: Literal["dog"]


class Body(InputModel):
    name: SingleLine | None = None
    when: BoundedDate | None = None
    flag: StrictFlag | None = None
    percent: Percent | None = None

    @field_validator("name")
    @classmethod
    def _not_forbidden(cls, value: str | None) -> str | None:
        if value == "interdit":
            raise ValueError("name : ce nom est réservé")
        return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: int


CASES: list[tuple[Any, Any, str]] = [  # (type, input, expected pydantic error type)
    (Strict, {}, "missing"),
    (Strict, {"required": 1, "other": 2}, "extra_forbidden"),
    (Strict, [1], "model_type"),
    (uuid.UUID, "x", "uuid_parsing"),
    (uuid.UUID, 42, "uuid_type"),
    (int, "abc", "int_parsing"),
    (int, 1.5, "int_from_float"),
    (int, [1], "int_type"),
    (int, "9" * 5000, "int_parsing_size"),
    (float, "abc", "float_parsing"),
    (Annotated[float, Field(allow_inf_nan=False)], float("nan"), "finite_number"),
    (bool, "peut-être", "bool_parsing"),
    (bool, [], "bool_type"),
    (str, 42, "string_type"),
    (Annotated[str, Field(max_length=3)], "abcd", "string_too_long"),
    (Annotated[str, Field(min_length=3)], "a", "string_too_short"),
    (Annotated[str, Field(pattern=r"^[0-9]+$")], "abc", "string_pattern_mismatch"),
    (Literal["draft", "sent"], "done", "literal_error"),
    (Colour, "green", "enum"),
    (Annotated[int, Field(ge=1)], 0, "greater_than_equal"),
    (Annotated[int, Field(gt=1)], 0, "greater_than"),
    (Annotated[int, Field(le=1)], 2, "less_than_equal"),
    (Annotated[int, Field(lt=1)], 2, "less_than"),
    (Annotated[int, Field(multiple_of=5)], 3, "multiple_of"),
    (list[int], "abc", "list_type"),
    (Annotated[list[int], Field(max_length=1)], [1, 2], "too_long"),
    (Annotated[list[int], Field(min_length=1)], [], "too_short"),
    (dict[str, int], 3, "dict_type"),
    (Decimal, "abc", "decimal_parsing"),
    (Annotated[Decimal, Field(max_digits=3)], "12345", "decimal_max_digits"),
    (Annotated[Decimal, Field(decimal_places=2)], "1.234", "decimal_max_places"),
    (date, "2026-02-30", "date_from_datetime_parsing"),
    (date, [1], "date_type"),
    (datetime, "demain", "datetime_from_date_parsing"),
    (datetime, [1], "datetime_type"),
    (time, "25:99", "time_parsing"),
    (AwareDatetime, "2026-03-02T09:00:00", "timezone_aware"),
    (HttpUrl, "pas une adresse", "url_parsing"),
    (HttpUrl, "ftp://example.org", "url_scheme"),
    (EmailStr, "claire@", "value_error"),
    (Annotated[Cat | Dog, Field(discriminator="kind")], {"kind": "cow"}, "union_tag_invalid"),
    (Annotated[Cat | Dog, Field(discriminator="kind")], {}, "union_tag_not_found"),
    (Body, {"name": "a\x00b"}, "value_error"),
    (Body, {"name": "interdit"}, "value_error"),
    (Body, {"when": "02/03/2026"}, "date_type"),
    (Body, {"when": "1800-01-01"}, "value_error"),
    (Body, {"flag": "true"}, "bool_type"),
    (Body, {"percent": "40"}, "int_type"),
    (Body, {"percent": 101}, "less_than_equal"),
    (Body, {"name": "x" * 301}, "string_too_long"),
]


@pytest.mark.parametrize(
    ("annotation", "value", "kind"), CASES, ids=[f"{case[2]}-{i}" for i, case in enumerate(CASES)]
)
def test_real_pydantic_errors_read_french(annotation: Any, value: Any, kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(annotation).validate_python(value)
    error = caught.value.errors()[0]
    assert error["type"] == kind, error
    message = french_message(error)
    assert message != error["msg"] and message != FALLBACK, (kind, message)
    assert not ENGLISH.search(re.sub(r"'[^']*'", "", message)), (kind, message)


def test_json_that_is_not_json_reads_french() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(Strict).validate_json(b'{"required": ')
    error = caught.value.errors()[0]
    assert error["type"] == "json_invalid" and french_message(error) == "JSON invalide"


def test_a_message_raised_by_our_validator_is_kept() -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"name": "interdit"})
    assert french_message(caught.value.errors()[0]) == "name : ce nom est réservé"


def test_choices_are_joined_in_french() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(Literal["draft", "sent", "done"]).validate_python("nope")
    assert french_message(caught.value.errors()[0]) == "doit être l'une des valeurs 'draft', 'sent' ou 'done'"


# ------------------------------------------------------------------------------------------- through an app


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things/{thing_id}")
    async def create(thing_id: uuid.UUID, body: Body) -> dict[str, str]:
        return {"id": str(thing_id)}

    return app


async def _send(method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and not english_in(problem), problem
    return problem  # type: ignore[no-any-return]


async def test_validation_errors_are_french_and_keep_the_field() -> None:
    problem = _problem(await _send("POST", "/things/abc", json={"name": 3, "other": 1}), 422)
    assert problem["code"] == "validation-error"
    by_field = {".".join(error["loc"]): error["msg"] for error in problem["errors"]}
    assert by_field == {
        "path.thing_id": "doit être un UUID valide",
        "body.name": "doit être une chaîne de caractères",
        "body.other": "champ inconnu : il n'est pas permis ici",
    }
    assert "path.thing_id : doit être un UUID valide" in problem["detail"]


@pytest.mark.parametrize(
    "raw",
    [b'{"name": ', b"{'name': 'x'}", b'{"name": "x",}', b"[" * 50_000, b'{"name": "\xff"}'],
    ids=["truncated", "single quotes", "trailing comma", "deep nesting", "invalid UTF-8"],
)
async def test_a_body_that_is_not_json_is_a_french_400(raw: bytes) -> None:
    response = await _send(
        "POST", f"/things/{uuid.uuid4()}", content=raw, headers={"content-type": "application/json"}
    )
    problem = _problem(response, 400)
    assert problem["code"] in ("invalid-json", "unreadable-body") and problem["detail"].startswith("body : ")


async def test_an_encoded_surrogate_is_text_refused_in_french() -> None:
    # Python's JSON reader lets a UTF-8-encoded surrogate through as a lone surrogate: the text is refused.
    response = await _send(
        "POST",
        f"/things/{uuid.uuid4()}",
        content=b'{"name": "\xed\xa0\x80"}',
        headers={"content-type": "application/json"},
    )
    assert _problem(response, 422)["errors"][0]["loc"] == ["body", "name"]


async def test_unknown_address_and_wrong_method_are_french() -> None:
    assert _problem(await _send("GET", "/nowhere"), 404)["code"] == "not-found"
    response = await _send("DELETE", f"/things/{uuid.uuid4()}")
    assert _problem(response, 405)["code"] == "method-not-allowed"
    assert response.headers["allow"] == "POST"
