"""Organisation names read by grammar: where a name starts, where it ends, its acronym, whether it is a group.

A name starts after its preposition and article ("à la", "aux", "l'") and runs on through nouns, adjectives,
capitalised words and complements ("de la cohésion des territoires", "du Val-de-Marne", "d'action
sociale"); it ends at punctuation, at a word that opens what follows ("pour", "afin", "un", "la
possibilité"…) or at the verb of the request ("de lancer", "d'étudier", "de s'engager", "à participer").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.commitments.plans.reading.model import PartyName
from services.commitments.plans.reading.words import (
    ARTICLES,
    CITY_ADJECTIVES,
    DEMONSTRATIVES,
    INDEFINITE,
    NAME_STOPS,
    NOT_ORGANISATIONS,
    POSSESSIVES,
    VERB_LEADS,
    Token,
    looks_like_infinitive,
)

# "addressee": after a request verb; "subject": the subject of a clause ("souhaite que la Région finance");
# "list": an enumeration of partners; "list-de": one introduced by "de" ("avec l'appui de X et du Y").
Context = Literal["addressee", "subject", "list", "list-de"]
# Why the name ended. "verb": "de"/"à" + infinitive, the expected end of a request's addressee.
Boundary = Literal["verb", "and-to", "and-party", "comma", "paren", "stop", "end"]

_PREPOSITIONS = {"à", "au", "aux", "de", "du", "des", "d'"}
_QUANTIFIERS = (
    ("l'", "ensemble", "des"),
    ("l'", "ensemble", "de"),
    ("tous", "les"),
    ("toutes", "les"),
    ("chacun", "des"),
    ("chacune", "des"),
    ("les", "différents"),
    ("les", "différentes"),
    ("aux", "différents"),
    ("aux", "différentes"),
)
_GENERIC = {"partenaires", "partenaire", "acteurs", "intervenants", "structures", "organismes", "tissu"}
_MAX_WORDS = 10
_ACRONYM_MAX = 12
# Words that may follow the verb of a clause whose subject is an all-lowercase name.
# ("y", "en", "ne" come before the verb: they end the name themselves.)
_AFTER_A_VERB = {
    "le",
    "la",
    "les",
    "l'",
    "un",
    "une",
    "des",
    "du",
    "sa",
    "son",
    "ses",
    "leur",
    "leurs",
    "à",
    "au",
    "aux",
    "ce",
    "cette",
    "ces",
    "tout",
    "tous",
    "toutes",
    "plus",
    "davantage",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "dix",
}


@dataclass(frozen=True)
class NameReading:
    """What was read at a place where a partner may be named."""

    party: PartyName | None  # None: the words name people, the city's own services or a pronoun, no partner
    words: str  # the words read, as written (for messages)
    end: int  # index of the token just after the name
    boundary: Boundary
    generic: bool = False  # "ses partenaires": partners not named
    why_uncertain: str | None = None


def _quantifier_at(tokens: list[Token], index: int) -> int:
    for words in _QUANTIFIERS:
        if [token.low for token in tokens[index : index + len(words)]] == list(words):
            return len(words)
    return 0


def closing_paren(tokens: list[Token], index: int) -> int | None:
    depth = 0
    for position in range(index, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[position].text, 0)
        if depth == 0:
            return position
    return None


def _acronym_in(tokens: list[Token], opening: int, closing: int) -> str | None:
    inside = tokens[opening + 1 : closing]
    if len(inside) == 1 and inside[0].is_acronym and len(inside[0].text) <= _ACRONYM_MAX:
        return inside[0].text
    return None


def _is_verb_form(token: Token) -> bool:
    """A finite verb that may follow a subject: a future ("organisera", "étudieront") or a 3rd person plural."""
    word = token.folded
    return (
        len(word) > 4
        and not token.capitalised
        and word.endswith(("era", "ira", "ra", "ront", "ent"))
        and not word.endswith("ment")
    )


def _subject_ends(tokens: list[Token], name_start: int, position: int) -> Literal["sure", "guess", None]:
    """Whether `tokens[position]` is the verb of a clause whose subject started at `name_start`.

    After a proper name ("la Région Île-de-France renforce"), an acronym or its parenthesis, a lowercase word
    is the verb; after a capitalised head alone ("la Caisse primaire …"), only if an object follows it ("l'État
    finance le projet"); after a lowercase word, that is a guess.
    """
    token, previous = tokens[position], tokens[position - 1]
    following = tokens[position + 1] if position + 1 < len(tokens) else None
    if previous.low in {"de", "d'", "du", "des", "et", "la", "le", "les", "l'"}:
        return None
    if _is_verb_form(token) or previous.text == ")" or previous.is_acronym:
        return "sure"
    if previous.capitalised and position - 1 > name_start:
        return "sure"
    if following is None or following.low not in _AFTER_A_VERB:
        return None
    if following.low in {
        "des",
        "du",
    }:  # "la Mission locale des Monts du Lyonnais" / "l'État finance des projets"
        after = tokens[position + 2] if position + 2 < len(tokens) else None
        return None if after is None or after.capitalised else "guess"
    return "sure" if previous.capitalised else "guess"


def read_name(tokens: list[Token], index: int, context: Context) -> NameReading | None:
    """The organisation named from `tokens[index]` on, or None when nothing there can start a name."""
    position = index
    plural = False
    while position < len(tokens):
        token = tokens[position]
        if skipped := _quantifier_at(tokens, position):  # "l'ensemble des bailleurs": a group
            plural, position = True, position + skipped
        elif token.low in _PREPOSITIONS | ARTICLES:
            if token.low == "des" and context != "list-de":
                return (
                    None  # "avec X, des solutions concrètes": an indefinite plural names nobody in particular
                )
            plural = plural or token.low in {"les", "aux", "des"}
            position += 1
        else:
            break
    if position >= len(tokens) or not tokens[position].is_word:
        return None
    first = tokens[position]
    if looks_like_infinitive(first):  # ", à partir de", "à financer": a verb, not a name
        return None
    if (
        first.low in INDEFINITE
        or first.low in DEMONSTRATIVES
        or (first.low in NAME_STOPS and not first.capitalised and first.low not in POSSESSIVES)
    ):
        return None
    if first.low in POSSESSIVES:  # "ses partenaires" names none of them; "son soutien" is no partner
        following = tokens[position + 1] if position + 1 < len(tokens) else None
        if following is not None and following.folded in _GENERIC:
            return NameReading(
                None,
                f"{first.text} {following.text}",
                position + 2,
                _boundary_at(tokens, position + 2),
                generic=True,
            )
        return None
    name_start, acronym = position, None
    boundary: Boundary = "end"
    why_uncertain: str | None = None
    words = 0
    while position < len(tokens):
        token = tokens[position]
        following = tokens[position + 1] if position + 1 < len(tokens) else None
        if token.text == "(":
            closing = closing_paren(tokens, position)
            found = _acronym_in(tokens, position, closing) if closing is not None else None
            if found is None or closing is None:
                boundary = "paren"
                break
            acronym, position = found, closing + 1
            continue
        if not token.is_word:
            if token.text == "," and (through := _acronym_ahead(tokens, name_start, position)) is not None:
                position = (
                    through  # "direction départementale de l'emploi, du travail et des solidarités (DDETS)"
                )
                continue
            boundary = "comma" if token.text == "," else "stop"
            break
        if position > name_start and token.capitalised:  # "association Les Jardins du Lac"
            position, words = position + 1, words + 1
            continue
        if token.low == "et":
            after = tokens[position + 2] if position + 2 < len(tokens) else None
            if after is not None and after.low in ARTICLES and position + 3 < len(tokens):
                after = tokens[position + 3]  # "et de l'Office national des forêts"
            boundary_after_and = _after_and(tokens[position - 1], following, after, context)
            if boundary_after_and == "ambiguous":
                words_after = " ".join(word.text for word in tokens[position : position + 3])
                why_uncertain = f"« {words_after} » peut continuer le nom ou nommer un autre partenaire"
            elif boundary_after_and is not None:
                boundary = boundary_after_and
                break
            position += 1
            continue
        if token.low in {"de", "d'", "du", "des"}:
            if _complement_ends_name(
                token, following, tokens[position + 2] if position + 2 < len(tokens) else None
            ):
                boundary = "verb" if _verb_follows(token, following, tokens, position) else "stop"
                break
            # "de la cohésion", "de l'emploi": the article belongs to the complement
            position += 2 if following is not None and following.low in ARTICLES and token.low != "des" else 1
            continue
        if token.low == "à" and _verb_follows(
            token, following, tokens, position
        ):  # "à participer", "à y aller"
            boundary = "verb"
            break
        if token.low in NAME_STOPS:
            if (through := _acronym_ahead(tokens, name_start, position)) is not None:
                position = (
                    through  # "Agence nationale pour la rénovation urbaine (ANRU)": the acronym says so
                )
                continue
            boundary = "stop"
            break
        if (
            context == "subject"
            and position > name_start
            and (ends := _subject_ends(tokens, name_start, position))
        ):
            boundary, why_uncertain = (
                "verb",
                (
                    None
                    if ends == "sure"
                    else f"fin du nom devinée avant « {token.text} », pris pour son verbe"
                ),
            )
            break
        position, words = position + 1, words + 1
    if position == name_start:
        return None
    end_char = tokens[position - 1].end
    name = (
        tokens[name_start].text if position - 1 == name_start else _text_between(tokens, name_start, end_char)
    )
    name = name.rstrip(" ,;:.…")
    content = tokens[name_start:position]
    if first.folded in _GENERIC:
        return NameReading(None, name, position, boundary, generic=True)
    if any(token.folded in CITY_ADJECTIVES for token in content) or (
        first.folded in NOT_ORGANISATIONS and not _services_of_an_organisation(content)
    ):
        return NameReading(None, name, position, boundary)
    if why_uncertain is None:
        why_uncertain = _doubtful_complement(content, boundary) or (
            f"nom de plus de {_MAX_WORDS} mots" if words > _MAX_WORDS else None
        )
    is_group = (
        plural
        and not first.capitalised
        and first.folded.endswith(("s", "x"))
        and not (_services_of_an_organisation(content))
    )
    party = PartyName(name=name, acronym=acronym, is_group=is_group, uncertain=why_uncertain is not None)
    return NameReading(party, name, position, boundary, why_uncertain=why_uncertain)


_NOT_INITIALS = {
    "de",
    "du",
    "des",
    "d'",
    "la",
    "le",
    "les",
    "l'",
    "et",
    "pour",
    "en",
    "à",
    "au",
    "aux",
    "sur",
}
_ACRONYM_REACH = 8


def _acronym_ahead(tokens: list[Token], name_start: int, position: int) -> int | None:
    """The index of a "(ACRONYM)" a few words ahead whose letters are the initials of the name up to it."""
    for index in range(position + 1, min(len(tokens), position + _ACRONYM_REACH)):
        token = tokens[index]
        if token.text == "(":
            closing = closing_paren(tokens, index)
            acronym = _acronym_in(tokens, index, closing) if closing is not None else None
            words = [
                word for word in tokens[name_start:index] if word.is_word and word.low not in _NOT_INITIALS
            ]
            initials = "".join(part[0] for word in words for part in word.text.split("-") if part).upper()
            return index if acronym is not None and initials == acronym.upper() else None
        if not token.is_word or looks_like_infinitive(token):
            return None
    return None


def _services_of_an_organisation(content: list[Token]) -> bool:
    """ "les services de l'État", "les services du Département": an organisation through its services."""
    return content[0].folded in {"service", "services"} and any(
        token.capitalised and token.folded not in {"ville", "commune", "mairie"} for token in content[1:]
    )


def _text_between(tokens: list[Token], first: int, end_char: int) -> str:
    # The tokens keep their offsets in the bullet; rebuild the words with the bullet's own spacing.
    source = tokens[first]
    text, offset = source.text, source.end
    for token in tokens[first + 1 :]:
        if token.start >= end_char:
            break
        text += " " * (token.start - offset) + token.text
        offset = token.end
    return text


def _after_and(
    previous: Token, following: Token | None, after: Token | None, context: Context
) -> Boundary | Literal["ambiguous"] | None:
    """After "et": another addressee or partner (the name ends), or the name goes on ("social et culturel")."""
    if following is None:
        return "stop"
    if following.low in {"à", "au", "aux"}:
        return "and-to"
    if following.low in ARTICLES or following.capitalised:
        return "and-party"
    if following.low in {"de", "du", "des", "d'"}:
        if context != "list-de":
            return None  # "Chambre de commerce et d'industrie"
        # "avec le soutien de l'État et du Département" / "de la Maison de la justice et du droit"
        if (
            previous.capitalised
            or previous.is_acronym
            or previous.text == ")"
            or (after and after.capitalised)
        ):
            return "and-party"
        return "ambiguous"
    if following.low in NAME_STOPS or looks_like_infinitive(following) or not following.is_word:
        return "stop"
    return None


def _complement_ends_name(preposition: Token, following: Token | None, after: Token | None) -> bool:
    """Whether "de …" after a name opens the request's verb or object rather than continuing the name."""
    if following is None or not following.is_word:
        return True
    if preposition.low in {"du", "des"}:
        return following.text.isdigit()
    if following.low in VERB_LEADS or following.low in INDEFINITE | POSSESSIVES | DEMONSTRATIVES:
        return True
    if following.low in ARTICLES:
        return after is not None and looks_like_infinitive(after)  # "de la financer" / "de la cohésion"
    if following.capitalised:
        return False  # "de Nanterre", "d'Île-de-France"
    return following.text.isdigit() or looks_like_infinitive(following)


def _verb_follows(preposition: Token, following: Token | None, tokens: list[Token], position: int) -> bool:
    if following is None or preposition.low not in {"de", "d'", "à"}:
        return False
    after = tokens[position + 2] if position + 2 < len(tokens) else None
    return (
        following.low in VERB_LEADS
        or looks_like_infinitive(following)
        or (following.low in ARTICLES and after is not None and looks_like_infinitive(after))
    )


def _doubtful_complement(content: list[Token], boundary: Boundary) -> str | None:
    """A proper name followed by "des"/"du" + common noun: "l'État des moyens" or "la Caisse des dépôts"?"""
    if boundary == "verb":
        return None
    for position, token in enumerate(content):
        if token.low in {"des", "du"} and position > 0:
            head, complement = content[:position], content[position + 1 :]
            if all(word.capitalised for word in head) and complement and not complement[0].capitalised:
                words = " ".join(word.text for word in content[position:])
                return f"« {words} » peut appartenir au nom ou à ce qui est demandé"
            return None
        if not token.capitalised:
            return None
    return None


def _boundary_at(tokens: list[Token], position: int) -> Boundary:
    if position >= len(tokens):
        return "end"
    return "comma" if tokens[position].text == "," else "stop"


def read_names(tokens: list[Token], index: int, context: Context) -> tuple[list[NameReading], int]:
    """An enumeration "A, B et C" from `tokens[index]` on; the index where it ends.

    Names after a comma count only if an "et" closes the enumeration: in "avec Île-de-France Mobilités, la
    création d'une ligne", the comma closes an incise, not a list.
    """
    readings: list[NameReading] = []
    position, last = index, False
    confirmed, confirmed_end = 0, index
    while (reading := read_name(tokens, position, context)) is not None:
        readings.append(reading)
        position = reading.end
        if last or len(readings) == 1 or reading.boundary == "and-party":
            confirmed, confirmed_end = len(readings), position
        if last:
            break
        if reading.boundary == "and-party":
            position, last = position + 1, True
        elif reading.boundary == "comma" and _starts_a_name(tokens, position + 1, context):
            position += 1
        else:
            break
    return readings[:confirmed], confirmed_end


def _starts_a_name(tokens: list[Token], position: int, context: Context) -> bool:
    if position >= len(tokens):
        return False
    token = tokens[position]
    if context == "list-de":  # "avec le soutien de l'État, de la Région et du Département"
        return token.low in {"de", "du", "des", "d'"}
    return token.low in ARTICLES or (token.capitalised and token.is_word)
