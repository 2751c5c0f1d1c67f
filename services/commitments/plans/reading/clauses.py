"""What a bullet says: a request of the city to a partner, or a commitment of the city, by the grammar of its verb.

"La Ville demande à X de …", "invite X à …", "sollicite X pour …", "souhaite que X …": a request, X its lead.
"La Ville s'engage à …", "organisera …" (a future), "va …", "poursuit …": a commitment. Any other verb is kept
as a commitment and flagged: the reader never classifies a verb it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.commitments.plans.reading.model import ItemKind, PartyName, ReviewFlag
from services.commitments.plans.reading.parties import NameReading, closing_paren, read_name, read_names
from services.commitments.plans.reading.verbs import (
    ASKING,
    REQUEST_VERBS,
    REQUESTED_THINGS,
    TO_DO_VERBS,
    commitment_title,
    future_infinitive,
    request_verb,
)
from services.commitments.plans.reading.words import (
    ADVERBS,
    ARTICLES,
    Token,
    fold,
    looks_like_infinitive,
    tokenize,
)

_CITY = {"ville", "commune", "municipalite", "mairie", "collectivite"}
_PRONOUNS_BEFORE_VERB = {"leur", "lui", "y", "en", "les", "l'", "se", "s'", "nous"}
# "la possibilité de", "d'", "pour", "afin de"… opening what is asked once the addressee is named.
_TITLE_OPENERS = (
    {"de", "d'", "à", "pour", "sur", "qu'il", "qu'elle", "qu'ils", "qu'elles"},
    {
        ("afin", "de"),
        ("afin", "d'"),
        ("afin", "que"),
        ("afin", "qu'"),
        ("en", "vue", "de"),
        ("en", "vue", "d'"),
        ("au", "sujet", "de"),
        ("au", "sujet", "du"),
        ("au", "sujet", "des"),
        ("qu'", "il"),
        ("qu'", "elle"),
        ("qu'", "ils"),
        ("qu'", "elles"),
        ("pour", "qu'", "il"),
        ("pour", "qu'", "elle"),
        ("pour", "qu'", "ils"),
        ("pour", "qu'", "elles"),
        ("pour", "que"),
    },
)
_ASSOCIATION = re.compile(
    r"\b(?P<marker>(?:avec (?:l'appui|l'aide|la participation|le (?:soutien|concours|partenariat|financement|appui)"
    r"(?: (?:financier|technique|actif|logistique))?)|aux cotes|aupres) (?=d)"
    r"|(?:en (?:lien|partenariat|concertation|collaboration|cooperation|association|relation"
    r"|coordination|liaison) (?:(?:tres |plus )?etroite?s? |etroitement |permanente? |constante? )?avec"
    r"|conjointement avec|de concert avec|main dans la main avec|(?:en )?(?:y )?associant|avec)(?=[\s']))"
)
_LIST_SEPARATORS = (
    ("au", "travers", "de"),
    ("au", "travers", "du"),
    ("au", "travers", "des"),
    ("au", "travers", "d'"),
    ("ainsi", "que"),
    ("via",),
    ("notamment",),
    ("et",),
    (",",),
)


@dataclass
class Clause:
    """The classification of one bullet."""

    kind: ItemKind
    title_source: str
    lead: PartyName | None = None
    associated: list[PartyName] = field(default_factory=list)
    flags: list[ReviewFlag] = field(default_factory=list)

    def flag(self, code: str, message: str) -> None:
        self.flags.append(ReviewFlag(code, message))


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f"« {text if len(text) <= limit else text[: limit - 1] + '…'} »"


def _skip_adverbs(tokens: list[Token], position: int) -> int:
    while position < len(tokens):
        pair = " ".join(token.low for token in tokens[position : position + 2])
        if pair in {"en outre", "par ailleurs", "de plus", "à ce titre", "en parallèle", "dans ce cadre"}:
            position += 2
        elif tokens[position].low in ADVERBS or (tokens[position].text == "," and position > 0):
            position += 1
        else:
            return position
    return position


def _subject_end(tokens: list[Token], clause: Clause) -> int | None:
    """Where the verb of a sentence whose subject is the city starts; co-subjects become associated partners."""
    if len(tokens) < 2 or tokens[0].folded not in {"la", "le", "l'"} or tokens[1].folded not in _CITY:
        return None
    position = 2
    if position < len(tokens) and tokens[position].low in {"de", "d'"}:  # "La Ville de Montfleury"
        position += 1
        while position < len(tokens) and tokens[position].capitalised:
            position += 1
    if position < len(tokens) and tokens[position].text in {",", "("}:  # an incise: ", en lien avec X,"
        closing = {",": ",", "(": ")"}[tokens[position].text]
        position = next(
            (index + 1 for index in range(position + 1, len(tokens)) if tokens[index].text == closing),
            position,
        )
    if position < len(tokens) and tokens[position].low == "et":  # "La Ville et le Département demandent"
        readings, position = read_names(tokens, position + 1, "subject")
        clause.associated += [reading.party for reading in readings if reading.party]
    return _skip_adverbs(tokens, position)


def _title_start(tokens: list[Token], position: int) -> int:
    """Where what is asked starts once the addressee is read: after "de", "pour", "afin de", "qu'il"…"""
    if position < len(tokens) and tokens[position].text == "(":  # a comment on the addressee
        depth = 0
        for index in range(position, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[index].text, 0)
            if depth == 0:
                position = index + 1
                break
    if position < len(tokens) and tokens[position].text == ",":  # ", propriétaire des murs, de définir"
        for index in range(position + 1, min(len(tokens), position + 15)):
            if tokens[index].text == "," and index + 1 < len(tokens):
                if tokens[index + 1].low in _TITLE_OPENERS[0] or tokens[index + 1].low in {
                    "afin",
                    "en",
                    "qu'",
                }:
                    position = index + 1
                break
    if position < len(tokens) and tokens[position].text == ",":
        position += 1
    singles, sequences = _TITLE_OPENERS
    for sequence in sorted(sequences, key=len, reverse=True):
        if tuple(token.low for token in tokens[position : position + len(sequence)]) == sequence:
            return position + len(sequence)
    if position < len(tokens) and tokens[position].low in singles:
        return position + 1
    return position


def _addressees(tokens: list[Token], position: int, verb: str) -> tuple[list[NameReading], int] | None:
    """The addressees of request verb `verb` whose complement starts at `tokens[position]`, if it has any."""
    constructions = REQUEST_VERBS[verb][1]
    token = tokens[position] if position < len(tokens) else None
    if token is None:
        return None
    following = tokens[position + 1] if position + 1 < len(tokens) else None
    if "that" in constructions or verb == "demander":
        if token.low in {"que", "qu'"}:
            return read_names(tokens, position + 1, "subject")
        if (
            token.low == "à"
            and following is not None
            and following.low == "ce"
            and position + 2 < len(tokens)
            and tokens[position + 2].low in {"que", "qu'"}
        ):
            return read_names(tokens, position + 3, "subject")
    if "near" in constructions and token.low == "auprès" and following is not None:
        return read_names(tokens, position + 1, "list-de")
    if "to" in constructions and token.low in {"à", "au", "aux"}:
        readings, end = read_names(tokens, position, "addressee")
        while readings and (
            readings[-1].boundary == "and-to"
            or (  # "à l'État et à la Région", ", à la Région"
                readings[-1].boundary == "comma"
                and end + 1 < len(tokens)
                and tokens[end + 1].low in {"à", "au", "aux"}
            )
        ):
            more, more_end = read_names(tokens, end + 1, "addressee")
            if not more:
                break
            readings, end = readings + more, more_end
        return readings, end
    if "de" in constructions and token.low in {"de", "d'", "du", "des"}:
        return read_names(tokens, position, "list-de")
    if "direct" in constructions and (token.low in ARTICLES or (token.capitalised and token.is_word)):
        thing = position + (1 if token.low in ARTICLES else 0)
        if (
            thing < len(tokens) and tokens[thing].folded in REQUESTED_THINGS
        ):  # "le soutien financier de l'État"
            complement = next(
                (
                    index
                    for index in range(thing + 1, min(len(tokens), thing + 4))
                    if tokens[index].low in {"de", "du", "des", "d'"}
                ),
                None,
            )
            return read_names(tokens, complement, "list-de") if complement is not None else None
        readings, end = read_names(tokens, position, "addressee")
        if verb in TO_DO_VERBS and readings and readings[-1].boundary != "verb":
            return None  # "encouragera la création d'une association": an object, not an addressee
        return readings, end
    return None


def _listed_partners(tokens: list[Token], opening: int) -> tuple[list[NameReading], int, bool]:
    """The partners listed in "ses partenaires (A au travers de B, C...)"; where the list ends; if it is open."""
    closing = closing_paren(tokens, opening)
    inside = tokens[opening + 1 : closing if closing is not None else len(tokens)]
    readings: list[NameReading] = []
    position = 0
    while position < len(inside):
        separator = next(
            (
                len(words)
                for words in _LIST_SEPARATORS
                if tuple(token.low for token in inside[position : position + len(words)]) == words
            ),
            0,
        )
        reading = None if separator else read_name(inside, position, "list")
        if reading is not None:
            readings.append(reading)
        position = (
            reading.end if reading is not None and reading.end > position else position + max(separator, 1)
        )
    open_list = any(token.text in {"...", "…"} or token.folded == "etc" for token in inside)
    return readings, (closing + 1 if closing is not None else len(tokens)), open_list


def _read_request(tokens: list[Token], text: str, verb_at: int, clause: Clause) -> int | None:
    """Fill `clause` with the request whose verb is `tokens[verb_at]`; the index where its title starts."""
    verb = request_verb(tokens[verb_at])
    if verb is None:
        return None
    found = _addressees(tokens, _skip_adverbs(tokens, verb_at + 1), verb)
    if found is None or not found[0]:
        return None
    readings, end = found
    first = readings[0]
    if first.generic:
        if end < len(tokens) and tokens[end].text == "(":
            listed, end, open_list = _listed_partners(tokens, end)
            named = [reading.party for reading in listed if reading.party]
            if named:
                clause.lead, clause.associated = named[0], clause.associated + named[1:]
                clause.flag(
                    "addressees-from-list",
                    f"demande adressée à {_quote(first.words)} : responsable "
                    f"déduit de la liste ({named[0].name}), à confirmer",
                )
                readings = listed
            else:
                clause.flag(
                    "addressee-missing", f"demande adressée à {_quote(first.words)} : partenaire à préciser"
                )
            if open_list:
                clause.flag(
                    "open-list", "liste de partenaires ouverte (« ... ») : partenaires associés à compléter"
                )
        else:
            clause.flag(
                "addressee-missing",
                f"demande adressée à {_quote(first.words)} sans les nommer : partenaire à préciser",
            )
    else:
        parties = [reading.party for reading in readings if reading.party]
        if not parties:
            return None  # "La Ville invite les habitants à …": no partner is asked
        clause.lead, clause.associated = parties[0], clause.associated + parties[1:]
        if len(parties) > 1:
            names = ", ".join(_quote(party.name) for party in parties)
            clause.flag(
                "several-addressees",
                f"demande adressée à plusieurs partenaires ({names}) : "
                f"{_quote(parties[0].name)} retenu comme responsable, à confirmer",
            )
    for reading in readings:
        if reading.party and reading.why_uncertain:
            clause.flag(
                "partner-name-uncertain",
                f"nom du partenaire {_quote(reading.party.name, 90)} incertain : {reading.why_uncertain}",
            )
    clause.kind = "request"
    return _title_start(tokens, end)


def _coordinated(tokens: list[Token], start: int) -> list[int]:
    """Indexes of verbs coordinated after `start` ("… et demande au CSCB", "…, et poursuivra son soutien")."""
    found = []
    for index in range(start, len(tokens) - 1):
        if tokens[index].low in {"et", ","}:
            verb_at = _skip_adverbs(tokens, index + 1)
            if verb_at < len(tokens) and tokens[verb_at].low in {"s'", "se"}:
                verb_at += 1
            found.append(verb_at)
    return [index for index in found if index < len(tokens)]


def _verb_position(tokens: list[Token], position: int) -> int:
    while position < len(tokens) - 1 and tokens[position].low in _PRONOUNS_BEFORE_VERB:
        position += 1
    return position


def classify(text: str) -> Clause:
    """The kind, partners, title source and flags of one bullet."""
    tokens = tokenize(text)
    clause = Clause(kind="commitment", title_source=text)
    verb_at = _subject_end(tokens, clause)
    if verb_at is None:
        _classify_without_city_subject(tokens, text, clause)
    elif verb_at < len(tokens):
        verb_at = _verb_position(tokens, verb_at)
        _classify_after_city_subject(tokens, text, verb_at, clause)
    else:
        clause.flag("verb-not-recognised", f"pas de verbe après « {text.strip()} »")
    _add_associated(tokens, text, clause)
    return clause


def _classify_after_city_subject(tokens: list[Token], text: str, verb_at: int, clause: Clause) -> None:
    if (
        tokens[verb_at].folded in {"va", "vont"}
        and verb_at + 1 < len(tokens)
        and request_verb(tokens[verb_at + 1])
    ):
        verb_at += 1  # "La Ville va demander à …"
    if (title_at := _read_request(tokens, text, verb_at, clause)) is not None:
        clause.title_source = text[tokens[title_at].start :] if title_at < len(tokens) else ""
        _check_coordinations(tokens, text, title_at, clause)
        return
    verb = tokens[verb_at]
    asking = request_verb(verb)
    found = _addressees(tokens, _skip_adverbs(tokens, verb_at + 1), asking) if asking else None
    if found and found[0] and not found[0][0].generic:  # "invite les habitants à …": people, no organisation
        if (title := commitment_title(tokens, text, verb_at)) is not None:
            clause.title_source = title  # "proposera aux familles un accompagnement": the city's offer
            return
        clause.title_source = text[verb.start :]
        clause.flag(
            "addressee-not-partner",
            f"demande adressée à {_quote(found[0][0].words)}, qui ne sont pas une "
            "organisation partenaire : engagement de la Ville à vérifier",
        )
        return
    if asking in ASKING:  # "La Ville demande que soit étudiée …": asked, but of whom?
        clause.kind, clause.title_source = "request", text[verb.start :]
        clause.flag(
            "addressee-missing",
            f"demande sans partenaire nommé ({_quote(text[verb.start :], 70)}) : partenaire à préciser",
        )
        return
    if (title := commitment_title(tokens, text, verb_at)) is not None:  # "proposera des ateliers" too
        clause.title_source = title
        for index in _coordinated(tokens, verb_at + 1):  # "s'engage à … et demande au CSCB de …"
            if index < len(tokens) and (title_at := _read_request(tokens, text, index, clause)) is not None:
                clause.title_source = text[tokens[title_at].start :] if title_at < len(tokens) else ""
                commitment = text[
                    tokens[_start_of_sentence_verb(tokens, verb_at)].start : tokens[index - 1].end
                ]
                commitment = commitment.strip(" ,").removesuffix(" et").strip(" ,")
                clause.flag(
                    "request-and-commitment",
                    f"la puce contient aussi un engagement de la Ville "
                    f"({_quote(commitment)}) : à scinder ou à confirmer",
                )
                break
        return
    clause.title_source = text[verb.start :]
    clause.flag(
        "verb-not-recognised",
        f"verbe « {verb.text} » non reconnu (ou sans destinataire) : demande "
        "ou engagement de la Ville à vérifier",
    )


def _start_of_sentence_verb(tokens: list[Token], verb_at: int) -> int:
    return verb_at - 1 if verb_at > 0 and tokens[verb_at - 1].low in {"s'", "se"} else verb_at


def _check_coordinations(tokens: list[Token], text: str, after: int, clause: Clause) -> None:
    """A second request or a commitment of the city coordinated after a request."""
    for index in _coordinated(tokens, after):
        token = tokens[index]
        if (
            token.low in {"à", "au", "aux"} and tokens[index - 1].low == "et"
        ):  # "… et à la Région d'accélérer"
            readings, _ = read_names(tokens, index, "addressee")
            others = [reading.party for reading in readings if reading.party]
            if others and readings[-1].boundary == "verb":
                clause.associated += others
                names = ", ".join(_quote(party.name) for party in others)
                clause.flag(
                    "several-addressees",
                    f"demande adressée aussi à {names} : "
                    f"{_quote(clause.lead.name if clause.lead else '?')} retenu comme "
                    "responsable, à confirmer",
                )
                continue
        if request_verb(token) and tokens[index - 1].low not in {"leur", "lui"}:
            extra = Clause(kind="commitment", title_source="")
            if _read_request(tokens, text, index, extra) is not None and extra.lead is not None:
                others = [extra.lead, *extra.associated]
                clause.associated += others
                names = ", ".join(_quote(party.name) for party in others)
                clause.flag(
                    "several-addressees",
                    f"deuxième demande dans la puce, adressée à {names} : "
                    f"{_quote(clause.lead.name if clause.lead else '?')} retenu comme "
                    "responsable, à confirmer",
                )
                clause.flags += [flag for flag in extra.flags if flag.code == "partner-name-uncertain"]
                continue
        reflexive = tokens[index - 1].low in {"s'", "se"}
        if (reflexive and token.folded in {"engage", "engagera"}) or (
            future_infinitive(token.folded) and not _may_have_another_subject(tokens, index)
        ):
            start = tokens[index - 1].start if reflexive else token.start
            wording = text[start : tokens[min(index + 3, len(tokens) - 1)].end]
            clause.flag(
                "request-and-commitment",
                f"la puce contient aussi un engagement de la Ville "
                f"({_quote(wording)}) : à scinder ou à confirmer",
            )
            return


def _may_have_another_subject(tokens: list[Token], index: int) -> bool:
    # "… un lieu qui accueillera les familles et sera ouvert le samedi": "sera" is too often the verb of
    # something else than the city to call the bullet a commitment too.
    return tokens[index].folded in {"sera", "seront"}


def _classify_without_city_subject(tokens: list[Token], text: str, clause: Clause) -> None:
    first = tokens[0] if tokens else None
    if first is not None and first.capitalised and first.is_word:
        if request_verb(first) and (title_at := _read_request(tokens, text, 0, clause)) is not None:
            clause.title_source = text[tokens[title_at].start :] if title_at < len(tokens) else ""
            return  # "Demander à la Mission locale de …": a request of the city
        lowered = Token(first.start, first.end, first.text.lower(), first.low, first.folded)
        if looks_like_infinitive(lowered):  # "Mettre en place …": an action of the city, by convention
            clause.title_source = text
            return
    clause.flag(
        "verb-not-recognised",
        f"la puce ne commence ni par « La Ville » ni par un infinitif "
        f"({_quote(text, 50)}) : demande ou engagement de la Ville à vérifier",
    )


def _add_associated(tokens: list[Token], text: str, clause: Clause) -> None:
    """Partners the bullet works with: "en lien avec X", "avec X et Y", "en partenariat avec", "associant X"…"""
    by_start = {token.start: index for index, token in enumerate(tokens)}
    folded = fold(text)
    for marker in _ASSOCIATION.finditer(folded):
        after = marker.end() + len(folded[marker.end() :]) - len(folded[marker.end() :].lstrip())
        index = by_start.get(after)
        if index is None:
            continue
        first = tokens[index]
        if marker["marker"] == "avec" and not (
            first.low in ARTICLES or (first.capitalised and first.is_word)
        ):
            continue  # "avec une attention particulière", "avec ses partenaires", "avec cette association"
        readings, _ = read_names(
            tokens, index, "list-de" if first.low in {"de", "du", "des", "d'"} else "list"
        )
        for reading in readings:
            if reading.party is None:
                continue
            clause.associated.append(reading.party)
            if reading.why_uncertain:
                clause.flag(
                    "partner-name-uncertain",
                    f"nom du partenaire associé {_quote(reading.party.name, 90)} "
                    f"incertain : {reading.why_uncertain}",
                )
    seen = {fold(clause.lead.name)} if clause.lead else set()
    unique = []
    for party in clause.associated:
        if fold(party.name) not in seen:
            seen.add(fold(party.name))
            unique.append(party)
    clause.associated = unique
