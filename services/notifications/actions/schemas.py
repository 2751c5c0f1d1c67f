"""What the action pages' forms accept, and their errors in French, field by field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from shared.input_types import BoundedDate, Email, InputModel, MultiLine, Name, SingleLine, Url
from shared.problems import DomainError


class UnreadableForm(DomainError):
    status, code, title = 400, "unreadable-form", "Formulaire illisible"


class AcknowledgeForm(InputModel):
    pass


class DoneForm(InputModel):
    comment: MultiLine = Field(min_length=1, max_length=5000)
    evidence_url: Url | None = None


class NewDateForm(InputModel):
    proposed_due_on: BoundedDate
    reason: MultiLine = Field(min_length=1, max_length=5000)


class NotForMeForm(InputModel):
    civility: SingleLine | None = Field(default=None, pattern="^(Madame|Monsieur)$")
    first_name: Name | None = None
    last_name: Name
    email: Email
    title: SingleLine | None = None


FORMS: dict[str, type[InputModel]] = {
    "acknowledge": AcknowledgeForm,
    "done": DoneForm,
    "new_date": NewDateForm,
    "not_for_me": NotForMeForm,
}
FIELD_LIMIT = 20_000

_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "string_too_short": "Ce champ est obligatoire.",
    "string_too_long": "Ce texte est trop long.",
    "date_type": "Date attendue, au format AAAA-MM-JJ.",
    "date_from_datetime_parsing": "Date attendue, au format AAAA-MM-JJ.",
    "date_parsing": "Date attendue, au format AAAA-MM-JJ.",
}
_FIELD_MESSAGES = {
    "evidence_url": "Lien attendu, commençant par https:// (ou http://).",
    "email": "Adresse électronique invalide.",
    "civility": "Choisissez « Madame », « Monsieur » ou rien.",
}


def _french(error: dict[str, Any]) -> str:
    field = str(error["loc"][0]) if error.get("loc") else ""
    kind = str(error.get("type", ""))
    if kind in ("missing", "string_too_short", "string_too_long") or kind.startswith("date"):
        return _MESSAGES.get(kind, _MESSAGES["date_type"])
    if field in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[field]
    if kind == "value_error":
        # The shared input types already say what is wrong in French ("le texte contient …").
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return message[:1].upper() + message[1:]
    return "Valeur invalide."


def parse_form(purpose: str, fields: dict[str, str]) -> tuple[BaseModel | None, dict[str, str]]:
    """The validated form of this purpose, or the French error message of each wrong field."""
    model = FORMS[purpose]
    # Blank optional fields are absent, not empty strings; unknown fields are ignored (a browser adds buttons).
    values = {name: value for name, value in fields.items() if name in model.model_fields and value.strip()}
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "form"
            errors.setdefault(field, _french(dict(error)))
        return None, errors
