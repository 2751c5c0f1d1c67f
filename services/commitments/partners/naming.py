"""The matching key of an organisation name: case, accents, articles and punctuation don't matter."""

from __future__ import annotations

import re
import unicodedata

# Whole words only: "les bailleurs" loses "les", "Département" keeps its "de", "Aulnay" its "au".
_LEADING_WORDS = re.compile(r"^(?:(?:aux|au|a|des|du|de|les|le|la)\s+|[dl]'\s*)+")


def normalize_name(name: str) -> str:
    """ "l'Établissement public Vallée Sud Grand Paris" → "etablissement public vallee sud grand paris"."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    text = text.replace("’", "'").replace("œ", "oe").replace("æ", "ae")
    text = re.sub(r"[^\w']+", " ", text).strip()
    text = _LEADING_WORDS.sub("", text)
    return re.sub(r"\s+", " ", text.replace("'", " ")).strip()
