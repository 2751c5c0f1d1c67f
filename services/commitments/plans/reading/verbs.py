"""The verbs of a plan's bullets: which ask a partner (and how they name it), which commit the city.

Lists of French verbs and endings, that is grammar: "demande à X de", "invite X à", "sollicite X pour",
"souhaite que X"; "s'engage à", any future ("organisera"), "va" + infinitive, a few present tenses.
"""

from __future__ import annotations

import re

from services.commitments.plans.reading.words import Token, fold, looks_like_infinitive

# Request verbs, 3rd person present or future, singular or plural, or infinitive ("Demander à X de …" as a
# bullet, "La Ville va demander à"), folded, and how they name the addressee:
# "to" = "à X de …", "direct" = "X à / de / pour …", "de" = "de X que / un …", "that" = "que X …".
REQUEST_VERBS: dict[str, tuple[re.Pattern[str], frozenset[str]]] = {
    verb: (re.compile(forms), frozenset(constructions.split()))
    for verb, forms, constructions in (
        ("demander", r"demand(?:e|ent|era|eront|er)", "to that"),
        ("proposer", r"propos(?:e|ent|era|eront|er)", "to that"),
        ("recommander", r"recommand(?:e|ent|era|eront|er)", "to that"),
        ("réclamer", r"reclam(?:e|ent|era|eront|er)", "to near"),
        ("inviter", r"invit(?:e|ent|era|eront|er)", "direct"),
        ("appeler", r"appell?(?:e|ent|era|eront|er)", "direct"),
        ("encourager", r"encourag(?:e|ent|era|eront|er)", "direct"),
        ("inciter", r"incit(?:e|ent|era|eront|er)", "direct"),
        ("exhorter", r"exhort(?:e|ent|era|eront|er)", "direct"),
        ("engager", r"engag(?:e|ent|era|eront|er)", "direct"),
        ("prier", r"pri(?:e|ent|era|eront|er)", "direct"),
        ("charger", r"charg(?:e|ent|era|eront|er)", "direct"),
        ("mandater", r"mandat(?:e|ent|era|eront|er)", "direct"),
        ("saisir", r"sais(?:it|issent|ira|iront|ir)", "direct"),
        ("solliciter", r"sollicit(?:e|ent|era|eront|er)", "direct de near"),
        ("interpeller", r"interpell(?:e|ent|era|eront|er)", "direct"),
        ("enjoindre", r"enjoin(?:t|dra|gnent|dront|dre)", "direct to"),
        ("attendre", r"attend(?:|ent|ra|ront|re)", "de that"),
        ("exiger", r"exig(?:e|ent|era|eront|er)", "de that"),
        ("souhaiter", r"souhait(?:e|ent|era|eront|er)", "that"),
        ("plaider", r"plaid(?:e|ent|era|eront|er)", "near"),
    )
}
# Direct-object verbs whose object must be followed by "à" / "de" + infinitive to be an addressee: "invite la
# CAF à tenir" asks the CAF; "encouragera la création d'une association" asks no one.
TO_DO_VERBS = {"inviter", "appeler", "encourager", "inciter", "exhorter", "engager", "prier", "charger"}
# What is asked of X rather than X itself: "sollicite le soutien financier de l'État", "l'avis de l'architecte".
REQUESTED_THINGS = {
    "soutien",
    "appui",
    "aide",
    "concours",
    "participation",
    "accompagnement",
    "expertise",
    "avis",
    "accord",
    "autorisation",
    "engagement",
    "mobilisation",
    "intervention",
    "attention",
    "financement",
    "contribution",
    "partenariat",
    "implication",
    "arbitrage",
    "validation",
    # money asked for, of whoever holds it: "sollicitera les fonds européens"
    "fonds",
    "credits",
    "subvention",
    "subventions",
    "financements",
    "dotation",
    "dotations",
    "moyens",
    "aides",
}
# Verbs that ask whatever follows them: without an addressee the bullet is still a request, to a partner unnamed.
ASKING = {"demander", "solliciter", "réclamer", "exiger", "attendre", "souhaiter"}
# Commitments in the present tense, and what they become in a title.
_PRESENT_COMMITMENTS = {
    "poursuit": "poursuivre",
    "poursuivent": "poursuivre",
    "continue": "continuer",
    "continuent": "continuer",
    "entend": "entendre",
    "prevoit": "prévoir",
    "compte": "compter",
    "souhaite": "souhaiter",
    "veille": "veiller",
    "met": "mettre",
    "mettent": "mettre",
    "lance": "lancer",
    "cree": "créer",
    "developpe": "développer",
    "soutient": "soutenir",
    "soutiennent": "soutenir",
    "accompagne": "accompagner",
    "organise": "organiser",
    "renforce": "renforcer",
    "mene": "mener",
    "porte": "porter",
    "assure": "assurer",
    "deploie": "déployer",
    "finance": "financer",
    "participe": "participer",
    "contribue": "contribuer",
    "apporte": "apporter",
    "mobilise": "mobiliser",
    "favorise": "favoriser",
    "ouvre": "ouvrir",
    "maintient": "maintenir",
    "pilote": "piloter",
    "amenage": "aménager",
    "renove": "rénover",
    "installe": "installer",
    "recrute": "recruter",
    "engage": "engager",
    "attache": "attacher",
    "emploie": "employer",
    "associe": "associer",
}
# Present-tense verbs of intention: the commitment is the infinitive that follows ("entend créer").
_INTENTIONS = {"prevoit", "prevoient", "entend", "entendent", "compte", "comptent", "souhaite", "souhaitent"}
_IRREGULAR_FUTURES = {
    "fera": "faire",
    "sera": "être",
    "aura": "avoir",
    "ira": "aller",
    "pourra": "pouvoir",
    "devra": "devoir",
    "verra": "voir",
    "saura": "savoir",
    "enverra": "envoyer",
    "recevra": "recevoir",
    "voudra": "vouloir",
    "accueillera": "accueillir",
    "courra": "courir",
    "mourra": "mourir",
    "tiendra": "tenir",
    "viendra": "venir",
}
_FUTURE_ENDINGS = (
    ("iendra", "enir"),
    ("uira", "uire"),
    ("ttra", "ttre"),
    ("ndra", "ndre"),
    ("vra", "vre"),
    ("oiera", "oyer"),
    ("uiera", "uyer"),
    ("era", "er"),
    ("ira", "ir"),
)
_NOT_FUTURES = {"extra", "opera", "cobra", "tiara", "mantra", "ultra", "camera", "cholera"}


def request_verb(token: Token) -> str | None:
    """The infinitive of the request verb `token` ("demandera" → "demander"), or None."""
    return next((verb for verb, (forms, _) in REQUEST_VERBS.items() if forms.fullmatch(token.folded)), None)


def future_infinitive(word: str) -> str | None:
    """The infinitive of a future in the 3rd person ("organisera", "étudieront"), or None if `word` is none."""
    if fold(word) in _NOT_FUTURES or len(word) < 3:
        return None
    singular = word[: -len("ont")] + "a" if word.endswith("ront") else word
    if fold(singular) in _IRREGULAR_FUTURES:
        return _IRREGULAR_FUTURES[fold(singular)]
    ending, replacement = next(((e, r) for e, r in _FUTURE_ENDINGS if singular.endswith(e)), ("", ""))
    if not ending or len(singular) <= len(ending) + 1:
        return None
    infinitive = singular[: -len(ending)] + replacement
    # "mènera" → "mener", "achèvera" → "achever", "achètera" → "acheter"; "complètera" → "compléter".
    if match := re.search(r"è([nvsm]|t(?=er$)(?<=chèt))er$", infinitive):
        return infinitive[: match.start()] + "e" + infinitive[match.start() + 1 :]
    if match := re.search(r"è(\w{1,2})er$", infinitive):
        return infinitive[: match.start()] + "é" + infinitive[match.start() + 1 :]
    return infinitive


def commitment_title(tokens: list[Token], text: str, verb_at: int) -> str | None:
    """The title of the city's commitment whose verb is at `verb_at`, or None if the verb is not recognised."""
    reflexive = verb_at > 0 and tokens[verb_at - 1].low in {"s'", "se"}
    pronoun = (
        tokens[verb_at - 1].text + ("" if tokens[verb_at - 1].text.endswith("'") else " ")
        if reflexive
        else ""
    )
    verb = tokens[verb_at]
    rest = text[verb.end :].lstrip()
    following = tokens[verb_at + 1] if verb_at + 1 < len(tokens) else None
    if verb.folded in {"engage", "engagent", "engagera", "engageront"} and reflexive:
        return (
            rest[len(following.text) :].lstrip() if following is not None and following.low == "à" else rest
        )
    if verb.folded in {"va", "vont"} and following is not None and looks_like_infinitive(following):
        return rest
    if (
        verb.folded in {"a", "ont"} and following is not None and following.low == "pour"
    ):  # "a pour objectif de"
        return text[tokens[verb_at + 3].end :].lstrip() if verb_at + 3 < len(tokens) else None
    if (
        verb.folded in _INTENTIONS and following is not None
    ):  # "prévoit de créer": the title is what is planned
        skip = 1 if following.low in {"de", "d'", "à"} else 0
        if verb_at + 1 + skip < len(tokens) and looks_like_infinitive(tokens[verb_at + 1 + skip]):
            return text[tokens[verb_at + 1 + skip].start :]
    infinitive = future_infinitive(verb.low) or _PRESENT_COMMITMENTS.get(verb.folded)
    if infinitive is None or (
        verb.folded == "souhaite" and not (following and looks_like_infinitive(following))
    ):
        return None
    if verb.folded in {"engage", "attache", "emploie", "associe"} and not reflexive:
        return None
    return f"{pronoun}{infinitive}{'' if rest[:1] in {',', ')'} else ' '}{rest}"
