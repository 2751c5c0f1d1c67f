"""The partners a plan names, found in the directory, or added to it and flagged.

A name is looked up as written, then without its acronym, then by its acronym, among the organisations and
the groups the plan may name (its own, then its territory's). A name not found is added: a group (empty,
belonging to this plan) when the plan names a collective, an organisation otherwise; each item naming it
is flagged, so that a person checks it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.partners import repository as partners_repository
from services.commitments.partners import scopes
from services.commitments.partners.models import Partner
from services.commitments.partners.naming import normalize_name
from services.commitments.partners.schemas import PartnerCreate, PartnerKind
from services.commitments.partners.service import create_partner
from services.commitments.plans.models import Plan
from services.commitments.plans.plan_text import PartyName, ReviewFlag
from shared.auth import Principal
from shared.clock import Clock
from shared.problems import InvalidInput

PARTNER_CREATED = "partner-created"
GROUP_WITHOUT_MEMBERS = "group-without-members"
_NAME_LIMIT = 300  # the column


def wordings(party: PartyName) -> list[str]:
    """The ways to look a party up, the surest first: as written, without "(ACRONYM)", the acronym."""
    found = [party.name]
    if party.acronym:
        found.append(re.sub(rf"\s*\(\s*{re.escape(party.acronym)}\s*\)\s*", " ", party.name).strip())
        found.append(party.acronym)
    return [wording for wording in dict.fromkeys(found) if normalize_name(wording)]


@dataclass
class PlanParties:
    """Resolves the parties one import names, for one plan; remembers the partners it added."""

    session: AsyncSession
    actor: Principal
    clock: Clock
    plan: Plan
    created: dict[uuid.UUID, tuple[str, str]] = field(
        default_factory=dict
    )  # partner id -> (name, why in French)

    def created_names(self) -> list[str]:
        return [name for name, _ in self.created.values()]

    async def resolve(self, party: PartyName, lead: bool) -> tuple[Partner, list[ReviewFlag]]:
        """The partner `party` designates for this plan (added when missing), and what to check about it: a
        partner added, a group without members (one added, or the lead: a request to it reaches nobody)."""
        partner = await scopes.find_for_plan(self.session, self.plan, wordings(party))
        if partner is None:
            partner = await self._add(party)
        flags = []
        if partner.id in self.created:
            flags.append(ReviewFlag(PARTNER_CREATED, self.created[partner.id][1]))
        if (
            partner.is_group
            and (lead or partner.id in self.created)
            and not (await partners_repository.members_of(self.session, [partner.id]))[partner.id]
        ):
            flags.append(
                ReviewFlag(
                    GROUP_WITHOUT_MEMBERS,
                    (
                        f"Le groupe « {partner.name} » n'a pas de membres pour ce plan : aucun partenaire n'en sera "
                        "relancé ni ne verra l'élément à ce titre. Indiquer ses membres dans l'annuaire (ceux d'un groupe "
                        "du même nom dans un autre plan ne sont pas repris)."
                    ),
                )
            )
        return partner, flags

    async def _add(self, party: PartyName) -> Partner:
        names = [wording[:_NAME_LIMIT] for wording in wordings(party)]
        name = names[0]
        own_scope = f"plan:{self.plan.id}"
        # A name another plan's group bears: an organisation may not take it, so the collective goes to this plan.
        as_group = (
            party.is_group
            or await scopes.taken_by(self.session, normalize_name(name), scopes.ORGANISATIONS, None)
            is not None
        )
        scope = own_scope if as_group else scopes.ORGANISATIONS
        free = [
            alias
            for alias in names[1:]
            if await scopes.taken_by(self.session, normalize_name(alias), scope, None) is None
        ]
        try:
            data = PartnerCreate(
                name=name,
                kind=PartnerKind.GROUP if as_group else PartnerKind.OTHER,
                aliases=free,
                is_group=as_group,
                scope_plan_id=self.plan.id if as_group else None,
            )
        except ValidationError as exc:  # a control character in the text, say
            raise InvalidInput(
                f"Nom de partenaire illisible dans le texte du plan : « {name[:80]} »."
            ) from exc
        partner = await create_partner(self.session, self.actor, self.clock, data)
        if as_group and not party.is_group:
            why = (
                f"« {name} » n'est pas dans l'annuaire ; un groupe d'un autre plan porte ce nom : ajouté comme "
                "groupe propre à ce plan. Vérifier s'il s'agit d'une organisation déjà connue sous un autre nom."
            )
        elif as_group:
            why = (
                f"Groupe « {name} » absent de l'annuaire pour ce plan : ajouté, propre à ce plan. Vérifier "
                "s'il existe sous un autre nom."
            )
        else:
            why = (
                f"Partenaire « {name} » absent de l'annuaire : ajouté. Vérifier qu'il n'y figure pas déjà sous "
                "un autre nom, et compléter sa fiche (type, alias)."
            )
        self.created[partner.id] = (partner.name, why)
        return partner
