"""Words of a plan's sentences: tokens that keep their place in the text, and the small grammar lexicon.

Everything here is French grammar (articles, prepositions, verb endings, nouns that end like verbs, nouns
that designate people rather than organisations), never a directory of partners.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_LOOKALIKES = {"’": "'", "‘": "'", "ʼ": "'", "\u00a0": " ", "\u202f": " ", "\u2011": "-"}


def lower(text: str) -> str:
    """Lowercase with plain apostrophes and spaces; char by char, so positions stay those of `text`."""
    return "".join(_LOOKALIKES.get(char, char).lower()[:1] for char in text)


def fold(text: str) -> str:
    """`lower` without accents ("é" → "e"), same length as `text`."""
    return "".join(unicodedata.normalize("NFD", char)[0] for char in lower(text))


# An elided article or pronoun is its own token: "l'", "d'", "s'", "qu'"; "aujourd'hui" stays whole.
_TOKEN = re.compile(r"(?<!\w)(?:l|d|s|n|j|m|t|c|qu|jusqu|lorsqu|puisqu)'(?=\w)|\w(?:[\w'-]*\w)?|\.\.\.|\S")


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str  # as written
    low: str  # lowercase, accents kept ("dès" is not "des")
    folded: str  # lowercase, no accents

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper()

    @property
    def is_acronym(self) -> bool:
        letters = [char for char in self.text if char.isalpha()]
        return len(letters) >= 2 and all(char.isupper() for char in letters)


def tokenize(text: str) -> list[Token]:
    low, folded = lower(text), fold(text)
    return [
        Token(
            match.start(),
            match.end(),
            text[match.start() : match.end()],
            match.group(),
            folded[match.start() : match.end()],
        )
        for match in _TOKEN.finditer(low)
    ]


ARTICLES = {"le", "la", "les", "l'"}
PLURAL_ARTICLES = {"les", "aux", "des"}
INDEFINITE = {"un", "une"}
POSSESSIVES = {"son", "sa", "ses", "leur", "leurs", "notre", "nos", "votre", "vos"}
DEMONSTRATIVES = {"ce", "cet", "cette", "ces"}
OBJECT_PRONOUNS = {"leur", "lui", "les", "la", "le", "l'", "y", "en", "se", "s'", "nous", "vous", "me", "m'"}
# Between the subject and its verb, or the verb and its addressee: "La Ville demande également à".
ADVERBS = {
    "également",
    "aussi",
    "notamment",
    "enfin",
    "donc",
    "ainsi",
    "instamment",
    "fermement",
    "solennellement",
    "expressément",
    "officiellement",
    "formellement",
    "pleinement",
    "activement",
    "résolument",
    "prioritairement",
    "désormais",
    "dorénavant",
    "toujours",
    "d'abord",
    "ensuite",
    "parallèlement",
}
# Where a name ends: the words that open what follows it (lowercase, accents kept).
NAME_STOPS = {
    "pour",
    "afin",
    "dans",
    "en",
    "sur",
    "par",
    "avec",
    "qui",
    "que",
    "qu'",
    "dont",
    "où",
    "ou",
    "lorsque",
    "si",
    "ainsi",
    "notamment",
    "à",
    "au",
    "aux",
    "un",
    "une",
    "le",
    "la",
    "les",
    "l'",
    "leur",
    "leurs",
    "son",
    "sa",
    "ses",
    "lui",
    "y",
    "se",
    "s'",
    "ne",
    "n'",
    "selon",
    "auprès",
    "entre",
    "sans",
    "sous",
    "vers",
    "chez",
    "contre",
    "depuis",
    "pendant",
    "lors",
    "dès",
    "jusqu'",
    "tant",
    "comme",
    "car",
    "mais",
    "puis",
    "alors",
    "avant",
    "après",
    "durant",
    "également",
    "aussi",
    "via",
    "ce",
    "cet",
    "cette",
    "ces",
    "soit",
    "ni",
    "et/ou",
    "quant",
    "concernant",
    "relatif",
    "relative",
    "relatifs",
    "relatives",
    "d'ici",
}
# After "de": the infinitive of the request starts here ("de s'engager", "de bien vouloir", "d'y associer").
VERB_LEADS = {
    "s'",
    "se",
    "ne",
    "n'",
    "bien",
    "mieux",
    "tout",
    "y",
    "en",
    "nous",
    "vous",
    "lui",
    "leur",
    "me",
    "m'",
    "toujours",
    "davantage",
    "rapidement",
    "notamment",
    "également",
    "aussi",
    "enfin",
}

# Nouns and adjectives that end like an infinitive (-er, -ir, -oir): "conseil de quartier", "d'avenir".
_NOUNS_LIKE_VERBS = set(
    """
quartier foncier financier immobilier hospitalier routier ouvrier particulier premier dernier entier metier
chantier atelier dossier calendrier courrier papier pompier infirmier jardinier saisonnier forestier hotelier
policier ecolier fermier cahier acier palier escalier grenier sentier panier pilier levier fichier gibier
clocher boucher boulanger danger etranger verger rocher foyer loyer hiver cancer laser poster leader manager
cluster super cher fier hier amer enfer mer fer ver ether diner dejeuner gouter souper plancher archer
singulier regulier familier princier petrolier roulier cavalier chevalier conseiller mobilier bachelier
avenir loisir plaisir desir air saphir soupir nadir menhir souvenir elixir tir cuir
espoir trottoir couloir miroir terroir dortoir comptoir tiroir reservoir soir noir manoir parloir lavoir
mouchoir rasoir arrosoir perchoir boudoir sechoir isoloir pressoir promenoir
ordre desordre cadre poudre foudre cendre gendre cidre cylindre meandre calendre scaphandre coriandre
maitre cloitre
""".split()
)
_VERBS_IN_RE = (
    "ndre",
    "ttre",
    "aitre",
    "oitre",
    "uire",
    "crire",
    "clure",
    "ompre",
    "oudre",
    "suivre",
    "vivre",
)
_LETTRE_LIKE = {"lettre", "lettres"}
_VERBS_IN_IRE_AIRE_OIRE = {
    "dire",
    "lire",
    "rire",
    "elire",
    "relire",
    "redire",
    "interdire",
    "predire",
    "contredire",
    "suffire",
    "sourire",
    "maudire",
    "faire",
    "refaire",
    "defaire",
    "parfaire",
    "satisfaire",
    "plaire",
    "deplaire",
    "taire",
    "extraire",
    "soustraire",
    "distraire",
    "croire",
    "boire",
}


def looks_like_infinitive(token: Token) -> bool:
    """Whether a lowercase word is an infinitive by its ending ("lancer", "étudier", "promouvoir", "produire")."""
    if not token.is_word or token.capitalised:
        return False
    word = token.folded.rsplit("-", 1)[-1]  # "co-construire"
    if word in _NOUNS_LIKE_VERBS or len(word) < 4:
        return False
    if word.endswith(("er", "ir", "oir")):
        return True
    if word.endswith("re"):
        return (word.endswith(_VERBS_IN_RE) and word not in _LETTRE_LIKE) or word in _VERBS_IN_IRE_AIRE_OIRE
    return False


# Nouns naming people or the city's own services, not partner organisations: "en concertation avec les
# habitants" involves no partner. Folded, singular and plural.
_PEOPLE = """
habitant locataire resident riverain usager famille parent enfant jeune adolescent eleve collegien lyceen
etudiant senior aine personne public citoyen beneficiaire benevole commercant artisan acteur mediateur
educateur animateur agent equipe elu service partenaire professionnel intervenant artiste proprietaire
coproprietaire salarie demandeur femme homme victime population tous chacun participant volontaire
""".split()
NOT_ORGANISATIONS = {form for noun in _PEOPLE for form in (noun, noun + "s", noun + "x")}
# The city's own departments are no partner either: "la police municipale", "les services municipaux".
CITY_ADJECTIVES = {"municipal", "municipale", "municipaux", "municipales"}
