"""Pydantic's validation errors told in French, by error type: what a person reads never comes from
pydantic's English messages (https://docs.pydantic.dev/latest/errors/validation_errors/).

Each message is a predicate about the value ("doit être un UUID valide"); the location of the field is
added by whoever shows it. A type missing from the table gets a generic French sentence, never the English
one. `value_error` and `assertion_error` carry the text of a ValueError raised by one of our validators:
those are written in French where they are raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MESSAGES: dict[str, str] = {
    # presence and shape
    "missing": "champ obligatoire",
    "missing_argument": "champ obligatoire",
    "missing_keyword_only_argument": "champ obligatoire",
    "missing_positional_only_argument": "champ obligatoire",
    "extra_forbidden": "champ inconnu : il n'est pas permis ici",
    "unexpected_keyword_argument": "champ inconnu : il n'est pas permis ici",
    "unexpected_positional_argument": "valeur en trop",
    "multiple_argument_values": "valeur donnée plusieurs fois",
    "none_required": "doit être null",
    "frozen_field": "ne peut pas être modifié",
    "frozen_instance": "ne peut pas être modifié",
    "no_such_attribute": "champ inconnu",
    "model_type": "doit être un objet JSON",
    "model_attributes_type": "doit être un objet JSON (corps envoyé en Content-Type: application/json)",
    "dataclass_type": "doit être un objet JSON",
    "dataclass_exact_type": "doit être un objet JSON",
    "dict_type": "doit être un objet JSON",
    "mapping_type": "doit être un objet JSON",
    "invalid_key": "clé d'objet invalide",
    "list_type": "doit être une liste",
    "tuple_type": "doit être une liste",
    "set_type": "doit être une liste",
    "frozen_set_type": "doit être une liste",
    "deque_type": "doit être une liste",
    "iterable_type": "doit être une liste",
    "iteration_error": "liste illisible",
    "set_item_not_hashable": "élément de liste invalide",
    "too_short": "doit contenir au moins {min_length} élément(s) (reçu : {actual_length})",
    "too_long": "doit contenir au plus {max_length} élément(s)",
    "json_invalid": "JSON invalide",
    "json_type": "doit être du texte JSON",
    "recursion_loop": "structure imbriquée trop profondément",
    "recursion_depth_exceeded": "structure imbriquée trop profondément",
    "arguments_type": "arguments invalides",
    "union_tag_invalid": "valeur de {discriminator} inconnue ; valeurs possibles : {expected_tags}",
    "union_tag_not_found": "le champ {discriminator} est obligatoire",
    "is_instance_of": "type de valeur invalide",
    "is_subclass_of": "type de valeur invalide",
    "callable_type": "type de valeur invalide",
    "needs_python_object": "type de valeur invalide",
    "default_factory_not_called": "valeur par défaut indisponible",
    "get_attribute_error": "valeur illisible",
    # text
    "string_type": "doit être une chaîne de caractères",
    "string_unicode": "doit être du texte Unicode valide",
    "string_too_short": "doit contenir au moins {min_length} caractère(s)",
    "string_too_long": "doit contenir au plus {max_length} caractère(s)",
    "string_pattern_mismatch": "n'a pas la forme attendue (motif {pattern})",
    "string_not_ascii": "ne doit contenir que des caractères ASCII",
    "bytes_type": "doit être une chaîne de caractères",
    "bytes_too_short": "doit contenir au moins {min_length} octet(s)",
    "bytes_too_long": "doit contenir au plus {max_length} octet(s)",
    "bytes_invalid_encoding": "encodage invalide",
    # choices
    "enum": "doit être l'une des valeurs {expected}",
    "literal_error": "doit être l'une des valeurs {expected}",
    "missing_sentinel_error": "valeur non permise",
    "ellipsis_error": "valeur non permise",
    # booleans and numbers
    "bool_type": "doit être un booléen (true ou false)",
    "bool_parsing": "doit être un booléen (true ou false)",
    "int_type": "doit être un nombre entier",
    "int_parsing": "doit être un nombre entier",
    "int_parsing_size": "nombre entier trop grand",
    "int_from_float": "doit être un nombre entier, sans partie décimale",
    "float_type": "doit être un nombre",
    "float_parsing": "doit être un nombre",
    "finite_number": "doit être un nombre fini",
    "greater_than": "doit être strictement supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être strictement inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "multiple_of": "doit être un multiple de {multiple_of}",
    "decimal_type": "doit être un nombre décimal",
    "decimal_parsing": "doit être un nombre décimal",
    "decimal_max_digits": "doit compter au plus {max_digits} chiffres",
    "decimal_max_places": "doit compter au plus {decimal_places} décimales",
    "decimal_whole_digits": "doit compter au plus {whole_digits} chiffres avant la virgule",
    "fraction_type": "doit être un nombre",
    "fraction_parsing": "doit être un nombre",
    "complex_type": "doit être un nombre",
    "complex_str_parsing": "doit être un nombre",
    # dates and times
    "date_type": "doit être une date au format AAAA-MM-JJ",
    "date_parsing": "doit être une date valide au format AAAA-MM-JJ",
    "date_from_datetime_parsing": "doit être une date valide au format AAAA-MM-JJ",
    "date_from_datetime_inexact": "doit être une date, sans heure",
    "date_past": "doit être une date passée",
    "date_future": "doit être une date future",
    "time_type": "doit être une heure au format HH:MM",
    "time_parsing": "doit être une heure valide au format HH:MM",
    "datetime_type": "doit être une date et heure ISO 8601",
    "datetime_parsing": "doit être une date et heure ISO 8601 valide",
    "datetime_object_invalid": "doit être une date et heure valide",
    "datetime_from_date_parsing": "doit être une date et heure ISO 8601 valide",
    "datetime_past": "doit être dans le passé",
    "datetime_future": "doit être dans le futur",
    "timezone_naive": "ne doit pas porter de fuseau horaire",
    "timezone_aware": "doit porter un fuseau horaire",
    "timezone_offset": "doit porter le décalage horaire {tz_expected}",
    "time_delta_type": "doit être une durée",
    "time_delta_parsing": "doit être une durée valide",
    # identifiers and addresses
    "uuid_type": "doit être un UUID valide",
    "uuid_parsing": "doit être un UUID valide",
    "uuid_version": "doit être un UUID de version {expected_version}",
    "url_type": "doit être une adresse web",
    "url_parsing": "doit être une adresse web valide",
    "url_syntax_violation": "doit être une adresse web valide",
    "url_too_long": "adresse web trop longue (au plus {max_length} caractères)",
    "url_scheme": "schéma d'adresse non permis (attendu : {expected_schemes})",
}

FALLBACK = "valeur invalide"


def french_message(error: Mapping[str, Any]) -> str:
    """The French sentence for one pydantic error (a dict of `ValidationError.errors()`)."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        return _raised_message(context)
    template = MESSAGES.get(kind)
    if template is None:
        return FALLBACK
    return template.format_map(_Context({key: _french_context(key, value) for key, value in context.items()}))


class _Context(dict[str, str]):
    # A custom error reusing a built-in type may lack the built-in's context: say so rather than fail.
    def __missing__(self, key: str) -> str:
        return "…"


def _raised_message(context: Mapping[str, Any]) -> str:
    error = context.get("error")
    if isinstance(error, (BaseException, str)) and str(error):
        return str(error)
    if "reason" in context:  # pydantic's EmailStr: the reason is email-validator's English sentence
        return "adresse électronique invalide"
    return FALLBACK


def _french_context(key: str, value: Any) -> str:
    text = str(value)
    if key in ("expected", "expected_tags", "expected_schemes"):
        # "'a', 'b' or 'c'": pydantic's own list, joined in English.
        text = text.replace("' or '", "' ou '").replace(" or ", " ou ")
    return text
