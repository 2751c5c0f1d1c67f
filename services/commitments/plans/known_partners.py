"""The partners of the Blagis plan that the importer knows by name, with their aliases.

The importer adds the missing ones to the directory before resolving a plan's wording against it; any
other name found in a plan is created as a new partner and the item flagged for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PartnerKind = Literal[
    "etat", "collectivite", "etablissement_public_territorial", "bailleur_social", "association",
    "etablissement_culturel", "justice", "other", "group",
]


@dataclass(frozen=True)
class KnownPartner:
    name: str
    kind: PartnerKind
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
