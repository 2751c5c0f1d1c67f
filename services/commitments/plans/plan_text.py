"""Read an action plan as text extracted from a PDF: axes, objectives and classified items.

Pure functions: the plan comes in as a str, frozen dataclasses come out. What the rules cannot settle
is kept and flagged (`needs_review`, with a French reason), never guessed silently.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.commitments.plans.reading.model import (
    ItemKind,
    ParsedAxis,
    ParsedItem,
    ParsedObjective,
    ParsedPlan,
    PartyName,
    PlanTextError,
    ReviewFlag,
    TargetDate,
)

__all__ = ["ItemKind", "ParsedAxis", "ParsedItem", "ParsedObjective", "ParsedPlan", "PartyName", "PlanTextError",
           "ReviewFlag", "TargetDate", "parse_plan_text", "parse_target_date"]


# Importer branch only: the former list of Sceaux's partners (known_partners.py, deleted), kept here for this
# stand-in reader until the parser branch, which knows no directory, replaces this file.
KnownPartnerKind = Literal[
    "etat", "collectivite", "etablissement_public_territorial", "bailleur_social", "association",
    "etablissement_culturel", "justice", "other", "group",
]


@dataclass(frozen=True)
class KnownPartner:
    name: str
    kind: KnownPartnerKind
    aliases: tuple[str, ...]
    members: tuple[str, ...] = ()


KNOWN_PARTNERS: tuple[KnownPartner, ...] = (
    KnownPartner("État", "etat", ("l'État", "Etat", "Préfecture des Hauts-de-Seine", "préfecture", "préfet")),
    KnownPartner("Hauts-de-Seine Habitat", "bailleur_social", ("HdS Habitat", "Hauts-de-Seine Habitat OPH")),
    KnownPartner("Bailleurs sociaux", "group", ("les bailleurs sociaux", "bailleurs", "les bailleurs"),
                 members=("Hauts-de-Seine Habitat",)),
    KnownPartner("Vallée Sud Grand Paris", "etablissement_public_territorial", (
        "VSGP", "l'établissement public Vallée Sud Grand Paris",
        "établissement public territorial Vallée Sud Grand Paris")),
    KnownPartner("Vallée Sud Emploi", "other", ()),
    KnownPartner("École de la deuxième chance", "association", ("E2C", "école de la 2e chance")),
    KnownPartner("Centre social et culturel des Blagis (CSCB)", "association",
                 ("CSCB", "Centre social et culturel des Blagis")),
    KnownPartner("Département des Hauts-de-Seine", "collectivite", (
        # Not "le département" alone: it would also match "le département de la Moselle".
        "le département des Hauts-de-Seine", "Conseil départemental des Hauts-de-Seine")),
    KnownPartner("Procureur de la République", "justice",
                 ("le procureur de la République", "parquet de Nanterre")),
    KnownPartner("Communes voisines", "group", ("les communes voisines",)),
    KnownPartner("Les Gémeaux, scène nationale", "etablissement_culturel",
                 ("la scène nationale des Gémeaux", "Les Gémeaux")),
)


_LOOKALIKES = {"’": "'", "‘": "'", "ʼ": "'", "\u00a0": " ", "\u202f": " "}
_LEADING_ARTICLE = re.compile(r"^(?:l'|d'|(?:le|la|les|a|au|aux|de|du|des)\s+)")


def _lower(text: str) -> str:
    # Char by char, so that a position in the result is the same position in `text`.
    return "".join(_LOOKALIKES.get(char, char).lower()[:1] for char in text)


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFD", char)[0] for char in _lower(text))


def _partner_key(phrase: str) -> str:
    key = re.sub(r"[()\[\]«»\"“”]", " ", _fold(phrase)).replace("-", " ")
    key = " ".join(key.split()).strip(" ,;:.!?…'")
    while match := _LEADING_ARTICLE.match(key):
        key = key[match.end():]
    return key


def _cleaned_phrase(phrase: str) -> str:
    """The phrase as written, without leading articles, surrounding punctuation or a trailing "..."."""
    cleaned = phrase.strip(" ,;:.…()")
    while match := _LEADING_ARTICLE.match(_fold(cleaned)):
        cleaned = cleaned[match.end():]
    return cleaned.strip(" ,;:.…()")


_GROUP_NAMES = {partner.name for partner in KNOWN_PARTNERS if partner.kind == "group"}
_PARTNER_BY_KEY = {_partner_key(alias): partner.name for partner in KNOWN_PARTNERS
                   for alias in (partner.name, *partner.aliases)}
_ARTICLES = r"(?:(?:a|au|aux|de|du|des|le|la|les)\s+|l'|d')*"
# Longest first, so that "bailleurs sociaux" wins over "bailleurs".
_PARTNER_PREFIXES = tuple(
    (re.compile(_ARTICLES + r"[\s-]+".join(map(re.escape, key.split())) + r"(?![\w'-])"), name)
    for key, name in sorted(_PARTNER_BY_KEY.items(), key=lambda entry: -len(entry[0]))
)
# What may follow a name: "aux bailleurs privés de" starts like a known name but designates something else.
_NAME_END = re.compile(
    r"$|\s*[,;:.()]|\s+(?:d'|(?:de|du|des|et|pour|dans|afin|en|a|au|aux|sur|avec|par|un|une"
    r"|la possibilite)\s)"
)


def resolve_partner_name(phrase: str) -> str | None:
    """Canonical name of the known organisation `phrase` designates, or None."""
    return _PARTNER_BY_KEY.get(_partner_key(phrase))


def _partner_at(folded: str, start: int = 0) -> tuple[str, int] | None:
    """Known organisation named at `folded[start:]` (articles allowed) and where its name ends."""
    for pattern, name in _PARTNER_PREFIXES:
        if (match := pattern.match(folded, start)) and _NAME_END.match(folded, match.end()):
            return name, match.end()
    return None


# --- target dates -------------------------------------------------------------------------------

_MONTHS = {"janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "aout": 8,
           "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12}
# Astronomical starts; "la rentrée" is the usual French wording for the start of the school year.
_SEASONS = {"printemps": (3, 20), "ete": (6, 21), "automne": (9, 22), "hiver": (12, 21), "rentree": (9, 1)}
_FROM_LEADS = {"des", "a partir de", "a partir du", "a compter de", "a compter du"}
_MONTH = r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre"
_MODIFIER = r"d[ée]but|mi|fin"
# Matched on the text with its accents, so that "dès" is not the article "des".
_DATE = re.compile(
    rf"(?<![\w'])(?:(?P<lead>dès|d'ici|au plus tard|[aà] partir du?|[aà] compter du?)\s+)?(?:"
    rf"(?:le\s+)?(?P<day>\d{{1,2}})(?:er)?\s+(?P<day_month>{_MONTH})\s+(?P<day_year>\d{{4}})"
    rf"|(?:(?P<month_mod>{_MODIFIER})(?:\s+|-)|en\s+)?(?P<month>{_MONTH})\s+(?P<month_year>\d{{4}})"
    rf"|(?:[aà]\s+l'|[aà]\s+la\s+|au\s+|en\s+|l'|la\s+)?"
    rf"(?P<season>printemps|[ée]t[ée]|automne|hiver|rentr[ée]e)\s+(?P<season_year>\d{{4}})"
    rf"|(?:(?P<year_mod>{_MODIFIER})(?:\s+|-)|(?P<year_en>en)\s+)?(?P<year>(?:19|20)\d{{2}})"
    rf")(?!\w)"
)


def _date_of(match: re.Match[str]) -> date | None:
    from_start = _fold(match["lead"] or "") in _FROM_LEADS
    if match["day"]:
        return date(int(match["day_year"]), _MONTHS[_fold(match["day_month"])], int(match["day"]))
    if match["season"]:
        return date(int(match["season_year"]), *_SEASONS[_fold(match["season"])])
    modifier = _fold(match["month_mod"] or match["year_mod"] or "")
    if match["month"]:
        year, month = int(match["month_year"]), _MONTHS[_fold(match["month"])]
        if modifier == "debut" or (from_start and not modifier):
            return date(year, month, 1)
        return date(year, month, 15 if modifier == "mi" else calendar.monthrange(year, month)[1])
    if not (match["lead"] or modifier or match["year_en"]):
        return None  # a bare year ("la loi de 2014") is no deadline
    year = int(match["year"])
    if modifier == "debut" or (from_start and not modifier):
        return date(year, 1, 1)
    return date(year, 6, 30) if modifier == "mi" else date(year, 12, 31)


def _target_dates(text: str) -> list[TargetDate]:
    found = []
    for match in _DATE.finditer(_lower(text)):
        try:
            on = _date_of(match)
        except ValueError:  # "31 février" is no date: keep looking
            continue
        if on is not None:
            found.append(TargetDate(on=on, wording=text[match.start():match.end()], rule=""))
    return found


def parse_target_date(wording: str) -> TargetDate | None:
    """First French date expression in `wording` ("dès l'automne 2021", "fin mars 2022"…), or None."""
    return next(iter(_target_dates(wording)), None)


# --- classification -----------------------------------------------------------------------------

_FUTURE_VERB = r"(?:s'|se\s+)?(?:[a-zàâçéèêëîïôûùüœ]*(?:era|ira|ttra|vra|dra|rra|ura)|fera|sera|ira)"
_REQUEST = re.compile(r"(?:^la ville|\bet|,)\s+demande\s+(?:aux|au|a)\s+")
_COMMITMENT = re.compile(rf"^la ville\s+(?:s'engage(?:\s+[aà])?|va|(?P<verb>{_FUTURE_VERB}))(?!\w)\s*")
_COORDINATED_COMMITMENT = re.compile(
    rf"(?:\bet|,)\s+(?:(?:leur|lui|l')\s*)?(?:s'engage|{_FUTURE_VERB})(?!\w)[^,]*")
_PARTY_END = (",", " de ", " d'", " la possibilite ", " l'autorisation ", " un ", " une ", " pour ")
_ALSO_ADDRESSED = re.compile(r"\s+et\s+(?:aux|au|a)\s+")
_AFTER_PARTY = re.compile(r"\s*(?:\([^)]*\))?\s*(?:,[^,]*,)?\s*(?:de\s+|d')?")
_ASSOCIATION = re.compile(
    r"\b(?:en (?:lien|partenariat|concertation|collaboration) (?:etroit )?avec|avec l'appui)\s*")
_ASSOCIATION_END = re.compile(r"\s*\(|\)|\.|;|:")
_SUPPORTED = re.compile(r"\b(?:soutiendra|soutenir)\s+")
_LIST_SEPARATOR = re.compile(r",|\s+au travers\b|\s+via\s+")
_AND = re.compile(r"\s+et\s+")
_GENERIC_PARTIES = {"ses partenaires", "partenaires", "nos partenaires", "ensemble des partenaires"}
_IRREGULAR_FUTURES = {
    "fera": "faire", "sera": "être", "aura": "avoir", "ira": "aller", "pourra": "pouvoir", "devra": "devoir",
    "verra": "voir", "saura": "savoir", "enverra": "envoyer", "recevra": "recevoir",
    "accueillera": "accueillir",
}
_FUTURE_ENDINGS = (("iendra", "enir"), ("uira", "uire"), ("ttra", "ttre"), ("ndra", "ndre"), ("vra", "vre"),
                   ("oiera", "oyer"), ("uiera", "uyer"), ("era", "er"), ("ira", "ir"))


@dataclass(frozen=True)
class _Classification:
    kind: ItemKind
    title_source: str
    lead_partner: str | None
    associated_partners: tuple[str, ...]
    review_reasons: tuple[str, ...] = ()


def _infinitive(future: str) -> str | None:
    pronoun, verb = re.fullmatch(r"(s'|se\s+)?(.+)", future).groups()  # type: ignore[union-attr]
    if verb in _IRREGULAR_FUTURES:
        return (pronoun or "") + _IRREGULAR_FUTURES[verb]
    ending, replacement = next(((e, r) for e, r in _FUTURE_ENDINGS if verb.endswith(e)), ("", ""))
    return (pronoun or "") + verb[: -len(ending)] + replacement if ending else None


def _partners_in_list(text: str, folded: str) -> tuple[list[str], list[str]]:
    """Known organisations of a "A, B et C" list, and the phrases that name none."""
    known: list[str] = []
    unknown: list[str] = []
    separators = [edge for separator in _LIST_SEPARATOR.finditer(folded) for edge in separator.span()]
    bounds = [0, *separators, len(folded)]
    for start, end in zip(bounds[::2], bounds[1::2]):
        segment, folded_segment = text[start:end], folded[start:end]
        position = len(folded_segment) - len(folded_segment.lstrip())
        while True:
            # A name before splitting on "et": "Centre social et culturel des Blagis" is one name.
            hit = _partner_at(folded_segment, position)
            next_and = _AND.search(folded_segment, hit[1] if hit else position)
            if hit:
                known.append(hit[0])
            elif _partner_key(piece := segment[position:next_and.start() if next_and else None]):
                unknown.append(_cleaned_phrase(piece))
            if next_and is None:
                break
            position = next_and.end()
    return known, unknown


def _requested_party(text: str, folded: str, start: int) -> tuple[str | None, list[str], list[str], int]:
    """Lead, other addressees and review reasons of the request whose addressee starts at `start`; its end."""
    if hit := _partner_at(folded, start):
        if also := _ALSO_ADDRESSED.match(folded, hit[1]):
            other, others, reasons, end = _requested_party(text, folded, also.end())
            several = "demande adressée à plusieurs partenaires : responsable à confirmer"
            return hit[0], [other, *others] if other else others, [several, *reasons], end
        return hit[0], [], [], hit[1]
    depth, end = 0, start
    while end < len(folded) and not (depth == 0 and folded.startswith(_PARTY_END, end)):
        depth += {"(": 1, ")": -1}.get(folded[end], 0)
        end += 1
    head, _, listed = text[start:end].partition("(")
    if _partner_key(head) in _GENERIC_PARTIES:  # "à ses partenaires (A au travers de B, C...)"
        known, unknown = _partners_in_list(listed, _fold(listed))
        addressed = f"demande adressée à « {head.strip()} »"
        reasons = [f"{addressed} : responsable déduit de la liste, à confirmer" if known
                   else f"{addressed} sans les nommer : partenaire à préciser"]
        if re.search(r"\.\.\.|…|\betc\b", listed):
            reasons.append("liste de partenaires ouverte (« ... ») : partenaires associés à compléter")
        reasons += [f"partenaire inconnu : {name}" for name in unknown]
        return (known[0] if known else None), known[1:], reasons, end
    addressee = _cleaned_phrase(text[start:end])
    return addressee, [], [f"partenaire inconnu : {addressee}"], end


def _associated_partners(text: str, folded: str) -> list[str]:
    names: list[str] = []
    for marker in _ASSOCIATION.finditer(folded):
        list_end = _ASSOCIATION_END.search(folded, marker.end())
        end = list_end.start() if list_end else len(folded)
        names += _partners_in_list(text[marker.end():end], folded[marker.end():end])[0]
    # "La Ville soutiendra la scène nationale des Gémeaux": the organisation supported is associated.
    supported = (_partner_at(folded, verb.end()) for verb in _SUPPORTED.finditer(folded))
    return names + [hit[0] for hit in supported if hit]


def _classify(text: str) -> _Classification:
    lowered, folded = _lower(text), _fold(text)
    associated = _associated_partners(text, folded)
    if request := _REQUEST.search(folded):
        lead, addressees, reasons, party_end = _requested_party(text, folded, request.end())
        # A city commitment in the same bullet, before ("s'engage à … et demande") or after the request.
        if commitment := _COMMITMENT.match(lowered) or _COORDINATED_COMMITMENT.search(lowered, request.end()):
            wording = text[commitment.start():commitment.end()].strip(" ,")
            reasons.append(f"la puce contient aussi un engagement de la Ville (« {wording} ») : "
                           "à scinder ou à confirmer")
        title_start = _AFTER_PARTY.match(folded, party_end).end()  # type: ignore[union-attr]
        partners = tuple(dict.fromkeys(name for name in addressees + associated if name != lead))
        return _Classification("request", text[title_start:], lead, partners, tuple(reasons))
    partners = tuple(dict.fromkeys(associated))
    if not folded.startswith("la ville"):
        reason = "la puce ne commence pas par « La Ville » : demande ou engagement à vérifier"
        return _Classification("commitment", text, None, partners, (reason,))
    if not (commitment := _COMMITMENT.match(lowered)):
        reason = "formulation non reconnue : demande ou engagement de la Ville à vérifier"
        return _Classification("commitment", text[len("la ville"):], None, partners, (reason,))
    title_source = text[commitment.end():]
    if commitment["verb"]:
        infinitive = _infinitive(commitment["verb"])
        # An unknown future form keeps its verb rather than losing it ("Conclura un accord…").
        title_source = f"{infinitive} {title_source}" if infinitive else text[len("la ville"):]
    return _Classification("commitment", title_source, None, partners)


_TITLE_LIMIT = 90
_DANGLING_WORDS = {"a", "à", "au", "aux", "de", "du", "des", "la", "le", "les", "et", "en", "un", "une",
                   "par", "pour", "sur", "dans", "avec", "son", "sa", "ses", "leur", "leurs"}


def _short_title(source: str) -> str:
    title = " ".join(source.split()).strip(" ,;:.")
    title = title[:1].upper() + title[1:]
    if len(title) <= _TITLE_LIMIT:
        return title
    words = title[: _TITLE_LIMIT - 1].split(" ")
    if title[_TITLE_LIMIT - 1] != " " and len(words) > 1:
        words.pop()  # the cut fell inside this word
    while len(words) > 1 and (words[-1].lower() in _DANGLING_WORDS or words[-1].endswith("'")):
        words.pop()
    return " ".join(words).rstrip(" ,;:(-–") + "…"


def _parsed_item(position: int, source_prefix: str, text: str, layout_reasons: list[str]) -> ParsedItem:
    classification = _classify(text)
    dates = _target_dates(text)
    reasons = [*classification.review_reasons, *layout_reasons]
    if len(dates) > 1:
        wordings = ", ".join(f"« {found.wording} »" for found in dates)
        reasons.append(f"plusieurs échéances dans le texte ({wordings}) : la première est retenue")
    def party(name: str) -> PartyName:  # importer branch only: a stand-in until the parser branch lands
        acronym = re.search(r"\(([A-Z0-9]{2,})\)$", name)
        return PartyName(name=name, acronym=acronym[1] if acronym else None, is_group=name in _GROUP_NAMES,
                         uncertain=False)

    return ParsedItem(
        position=position, source_key=f"{source_prefix}.{position}", text=text,
        title=_short_title(classification.title_source), kind=classification.kind,
        lead_partner=party(classification.lead_partner) if classification.lead_partner else None,
        associated_partners=tuple(party(name) for name in classification.associated_partners),
        target=dates[0] if dates else None, flags=tuple(ReviewFlag("review", reason) for reason in reasons),
    )


# --- layout -------------------------------------------------------------------------------------

_AXIS = re.compile(r"^(?:AXE\s+)?(?P<number>[IVXLC]+)\s*[.)\-–—:|]\s*(?P<title>\S.*)$")
# "A | TITRE", "B I TITRE" (the bar read back as an I), "E TITRE" (separator lost).
_OBJECTIVE = re.compile(r"^(?P<letter>[A-Z])(?:\s*[|.):\-–—]\s*|\s+I\s+|\s+)(?P<title>\S.*)$")
_BULLET = re.compile(r"^[-–—•▪*]\s+(?=\S)")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def _roman_value(numeral: str) -> int:
    values = [_ROMAN_VALUES[char] for char in numeral]
    return sum(-value if value < following else value for value, following in zip(values, values[1:] + [0]))


def _is_heading_title(text: str) -> bool:
    return sum(char.isalpha() for char in text) >= 3 and text == text.upper()


@dataclass
class _ObjectiveDraft:
    letter: str
    title: str
    paragraphs: list[list[str]]
    bullets: list[tuple[list[str], list[str]]]  # (lines, review reasons coming from the layout)


@dataclass
class _AxisDraft:
    number: str
    title: str
    objectives: list[_ObjectiveDraft]


class _PlanReader:
    def __init__(self) -> None:
        self.title: str | None = None
        self.axes: list[_AxisDraft] = []
        self.previous: Literal["blank", "heading", "bullet", "other"] = "blank"

    @property
    def objective(self) -> _ObjectiveDraft | None:
        return self.axes[-1].objectives[-1] if self.axes and self.axes[-1].objectives else None

    def read(self, line_number: int, line: str) -> None:
        stripped = line.strip()
        previous, self.previous = self.previous, "other"
        if not stripped:
            self.previous = "blank"
        elif self.title is None:
            self.title = stripped
            # Without a title line the plan opens on its first axis.
            if self._read_heading(stripped, continuing=False):
                self.previous = "heading"
        elif bullet := _BULLET.match(stripped):
            self._add_bullet(line_number, stripped[bullet.end():])
        elif self._read_heading(stripped, continuing=previous == "heading"):
            self.previous = "heading"
        elif (objective := self.objective) is None:
            pass  # an introduction to the plan or to an axis: the model has no place for it
        elif stripped.startswith("La Ville") and not stripped.endswith(":"):
            self._add_bullet(line_number, stripped)  # its dash was lost in the extraction
        elif previous == "bullet" and stripped[0].islower():
            objective.bullets[-1][0].append(stripped)  # a bullet wrapped onto the next line
            self.previous = "bullet"
        else:
            if previous == "bullet":
                quoted = f"« {stripped[:40]}… »"
                objective.bullets[-1][1].append(f"ligne suivante {quoted} lue comme du contexte : "
                                                "vérifier qu'elle ne prolonge pas cette puce")
            if previous == "other" and objective.paragraphs:
                objective.paragraphs[-1].append(stripped)
            else:
                objective.paragraphs.append([stripped])

    def _read_heading(self, stripped: str, continuing: bool) -> bool:
        """Open the axis or objective `stripped` announces, or extend the heading it wraps from."""
        axis, objective = _AXIS.match(stripped), _OBJECTIVE.match(stripped)
        if axis and not _is_heading_title(axis["title"]):
            axis = None
        if objective and not (self.axes and _is_heading_title(objective["title"])):
            objective = None  # before the first axis, such a line belongs to the introduction
        next_letter = chr(ord(self.objective.letter) + 1) if self.objective else "A"
        expected_objective = objective is not None and objective["letter"] == next_letter
        expected_axis = axis is not None and _roman_value(axis["number"]) == len(self.axes) + 1
        if continuing and _is_heading_title(stripped) and not (expected_axis or expected_objective):
            heading = self.objective or self.axes[-1]  # a long uppercase title wrapped onto the next line
            heading.title = f"{heading.title} {stripped}"
        # "C. TITRE" reads as axis C (100) or objective C: the expected objective letter settles it.
        elif axis and not (expected_objective and len(axis["number"]) == 1):
            self.axes.append(_AxisDraft(axis["number"], axis["title"].strip(), []))
        elif objective:
            letter, title = objective["letter"], objective["title"].strip()
            self.axes[-1].objectives.append(_ObjectiveDraft(letter, title, [], []))
        else:
            return False
        return True

    def _add_bullet(self, line_number: int, text: str) -> None:
        if self.objective is None:
            raise PlanTextError(f"ligne {line_number} : puce hors de tout objectif (« {text[:60]} »)")
        self.objective.bullets.append(([text], []))
        self.previous = "bullet"

    def plan(self) -> ParsedPlan:
        if self.title is None or not self.axes:
            raise PlanTextError("aucun axe (« I. TITRE ») trouvé dans le texte du plan")
        return ParsedPlan(title=self.title, axes=tuple(
            ParsedAxis(number=axis.number, title=axis.title, objectives=tuple(
                ParsedObjective(
                    letter=objective.letter, title=objective.title,
                    context="\n\n".join(" ".join(paragraph) for paragraph in objective.paragraphs),
                    items=tuple(
                        _parsed_item(position, f"{axis.number}.{objective.letter}", " ".join(lines), reasons)
                        for position, (lines, reasons) in enumerate(objective.bullets, start=1)
                    ),
                )
                for objective in axis.objectives
            ))
            for axis in self.axes
        ))


def parse_plan_text(text: str, reference_date: date | None = None) -> ParsedPlan:
    """Axes, objectives and classified items of an action plan extracted from a PDF as text."""
    reader = _PlanReader()
    for line_number, line in enumerate(text.splitlines(), start=1):
        reader.read(line_number, line)
    return reader.plan()
