"""The matching key of a name (pure function)."""

from __future__ import annotations

import pytest

from services.commitments.partners.naming import normalize_name


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("l'Établissement public Vallée Sud Grand Paris", "etablissement public vallee sud grand paris"),
        ("les bailleurs sociaux", "bailleurs sociaux"),
        ("aux bailleurs sociaux", "bailleurs sociaux"),
        ("des communes voisines", "communes voisines"),
        ("à la Caisse primaire d’assurance maladie (CPAM)", "caisse primaire d assurance maladie cpam"),
        ("de l'État", "etat"),
        ("Département des Hauts-de-Seine", "departement des hauts de seine"),  # "de" of "Département" stays
        ("Aulnay-sous-Bois", "aulnay sous bois"),
        ("Lecture publique", "lecture publique"),
        ("Association Œuvre", "association oeuvre"),
        ("  VSGP ", "vsgp"),
        ("Le", "le"),  # an article alone is a name
    ],
)
def test_normalize_name(name: str, key: str) -> None:
    assert normalize_name(name) == key
