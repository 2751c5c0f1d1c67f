"""French wording of reminders: forms of address, deadline kinds, working days left or late.

Pure functions of plain values, so the templates stay free of grammar and the phrasing is tested alone.
"""

from __future__ import annotations

import re
from datetime import date

from shared.calendar import WorkingCalendar, format_date_fr

# Deadline kinds (shared.events.commitments.DeadlineKind): (noun, gender), "f" or "m", for the agreement of
# "attendue"/"attendu".
_KIND_NOUNS = {"response": ("réponse", "f"), "delivery": ("réalisation", "f"), "milestone": ("jalon", "m")}
# What the city waits for, in a sentence: "la Ville attend votre réponse".
_KIND_OBJECTS = {
    "response": "votre réponse",
    "delivery": "la réalisation de l'action",
    "milestone": "l'étape",
}

_CIVILITY_SHORT = {"Madame": "Mme", "Monsieur": "M."}
MAX_SUBJECT_TITLE = 120


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(value: str) -> str:
    """The text on one line: every control, line or paragraph separator becomes a space."""
    # Data written by people (names, titles) must never break a header or a subject line.
    return _LINE_BREAKING.sub(" ", value)


def salutation(civility: str | None) -> str:
    """« Madame, » / « Monsieur, » when the civility is known, else « Madame, Monsieur, »."""
    return f"{civility}," if civility in _CIVILITY_SHORT else "Madame, Monsieur,"


def closing(civility: str | None) -> str:
    """The formal closing formula, addressed like the salutation."""
    address = civility if civility in _CIVILITY_SHORT else "Madame, Monsieur"
    return f"Nous vous prions d'agréer, {address}, l'expression de nos salutations distinguées."


def person_name(civility: str | None, first_name: str | None, last_name: str | None) -> str | None:
    """« Mme Dupont » when the civility is known, else « Claire Dupont »; None when no name is known."""
    short = _CIVILITY_SHORT.get(civility or "")
    if short and last_name:
        return f"{short} {last_name}"
    return " ".join(part for part in (first_name, last_name) if part) or None


def title_in_sentence(title: str) -> str:
    """A job title after a comma: « Directrice de la gestion locative » → « directrice de la gestion locative »."""
    # Only a capitalised word is lowered: "DGS" or "Directeur DSI" keep their acronyms.
    first_word = title.split(" ", 1)[0]
    if len(first_word) > 1 and first_word[0].isupper() and first_word[1:].islower():
        return title[0].lower() + title[1:]
    return title


def attention_line(
    civility: str | None, first_name: str | None, last_name: str | None, title: str | None
) -> str | None:
    """« À l'attention de Mme Dupont, directrice de la gestion locative »; None when neither is known."""
    name = person_name(civility, first_name, last_name)
    if name is None:
        return f"À l'attention de : {title}" if title else None
    return f"À l'attention de {name}, {title_in_sentence(title)}" if title else f"À l'attention de {name}"


def city(commune: str | None) -> str:
    """« Ville de Sceaux », or « Ville » when the commune is unknown."""
    return f"Ville de {commune}" if commune else "Ville"


def feminine(civility: str | None, masculine: str, feminine_form: str) -> str:
    """The feminine form for « Madame », the masculine one for « Monsieur », both when unknown."""
    if civility == "Madame":
        return feminine_form
    if civility == "Monsieur":
        return masculine
    return f"{masculine} ou {feminine_form}" if " " in masculine else f"{masculine}(e)"


def working_days(n: int) -> str:
    """« 1 jour ouvré », « 3 jours ouvrés »."""
    return f"{n} jour ouvré" if abs(n) == 1 else f"{n} jours ouvrés"


def kind_noun(kind: str, label: str | None) -> str:
    """The deadline kind as a noun: « réponse », « réalisation », « jalon « Dépôt du permis » »."""
    noun, _ = _KIND_NOUNS.get(kind, ("échéance", "f"))
    return f"{noun} « {label} »" if kind == "milestone" and label else noun


def kind_expected(kind: str, label: str | None) -> str:
    """« réponse attendue », « réalisation attendue », « jalon « … » attendu »."""
    _, gender = _KIND_NOUNS.get(kind, ("échéance", "f"))
    return f"{kind_noun(kind, label)} {'attendue' if gender == 'f' else 'attendu'}"


def kind_label(kind: str, label: str | None) -> str:
    """The deadline kind for the « Échéance : » line: « réponse attendue », « réalisation », « jalon : label »."""
    if kind == "response":
        base = "réponse attendue"
    elif kind == "delivery":
        base = "réalisation"
    elif kind == "milestone":
        return f"jalon « {label} »" if label else "jalon"
    else:
        base = "échéance"
    return f"{base} (« {label} »)" if label else base


def what_is_expected(kind: str, label: str | None) -> str:
    """The object of « la Ville attend … »: « votre réponse », « l'étape « label » »."""
    phrase = _KIND_OBJECTS.get(kind, "une suite")
    return f"{phrase} « {label} »" if kind == "milestone" and label else phrase


def timing(calendar: WorkingCalendar, today: date, due_on: date) -> str:
    """When the deadline is, seen from today: « dans 3 jours ouvrés », « aujourd'hui », « en retard de 6 jours
    ouvrés »."""
    if today == due_on:
        return "aujourd'hui"
    if today < due_on:
        left = calendar.working_days_between(today, due_on)
        return f"dans {working_days(left)}" if left > 0 else f"le {format_date_fr(due_on)}"
    late = calendar.working_days_between(due_on, today)
    # The weekend after a Friday deadline: past, but no working day late yet.
    return f"en retard de {working_days(late)}" if late > 0 else f"échue depuis le {format_date_fr(due_on)}"


def letter_sentence(noun_phrase: str, sent_on: date | None, letter_reference: str | None) -> str | None:
    """« Cette demande vous a été adressée par courrier du lundi 2 mars 2026 (réf. SCX/DGS/2026-041). »"""
    if sent_on is None and not letter_reference:
        return None
    sentence = f"{noun_phrase} vous a été adressée par courrier"
    if sent_on is not None:
        sentence += f" du {format_date_fr(sent_on)}"
    if letter_reference:
        sentence += f" (réf. {letter_reference})"
    return sentence + "."


def shorten(text: str, limit: int = MAX_SUBJECT_TITLE) -> str:
    """The text cut at a word boundary with « … » when longer than limit characters."""
    text = " ".join(one_line(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.") + "…"
