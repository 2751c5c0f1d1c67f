"""The matching key of an organisation name: case, accents, articles and punctuation don't matter."""

from __future__ import annotations

import re
import unicodedata

_LEADING_WORDS = re.compile(r"^(?:(?:a|au|aux|de|du|des|d'|le|la|les|l')\s*)+", re.IGNORECASE)


def normalize_name(name: str) -> str:
    """"l'Établissement public Vallée Sud Grand Paris" → "etablissement public vallee sud grand paris"."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    text = text.replace("’", "'").replace("œ", "oe").replace("æ", "ae")
    text = re.sub(r"[^\w']+", " ", text).strip()
    text = _LEADING_WORDS.sub("", text)
    return re.sub(r"\s+", " ", text.replace("'", " ")).strip()
