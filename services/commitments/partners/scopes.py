"""Where a partner's names are unique, and which groups a plan may address.

An organisation is the same for every plan: its names are unique across the directory. A group ("les
bailleurs sociaux") belongs to one plan or to one territory (every plan of that territory): its names are
unique within that scope, and only the plans of its scope may name it. A request to a group therefore
reaches the members that belong to it for that plan, never those of another plan's group of the same name.

Each alias row carries its partner's scope as a key, `scope_key`:
- "" for an organisation;
- "plan:<plan id>" or "territory:<normalised territory>" for a group;
- "unscoped:<group id>" for a group the migration could not place (docs/directory.md): no plan may name
  it until it is given a scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.partners import repository
from services.commitments.partners.models import Partner
from services.commitments.partners.naming import normalize_name
from services.commitments.plans.models import Plan
from shared.problems import InvalidInput

ORGANISATIONS = ""


def territory_key(territory: str) -> str:
    return f"territory:{normalize_name(territory)}"


def group_scope_key(group_id: uuid.UUID, scope_plan_id: uuid.UUID | None, scope_territory: str | None) -> str:
    if scope_plan_id is not None:
        return f"plan:{scope_plan_id}"
    if scope_territory is not None:
        return territory_key(scope_territory)
    return f"unscoped:{group_id}"


def scope_key(partner: Partner) -> str:
    """The scope in which the partner's names are unique."""
    if not partner.is_group:
        return ORGANISATIONS
    return group_scope_key(partner.id, partner.scope_plan_id, partner.scope_territory)


def plan_scope_keys(plan: Plan) -> list[str]:
    """The scopes of the groups a plan may name, the closest first: the plan's own, then its territory's."""
    keys = [f"plan:{plan.id}"]
    if plan.territory and normalize_name(plan.territory):
        keys.append(territory_key(plan.territory))
    return keys


def serves(group: Partner, plan: Plan) -> bool:
    """True when the plan may address the group (any plan may address an organisation)."""
    return not group.is_group or scope_key(group) in plan_scope_keys(plan)


def blocking_scopes(scope: str) -> set[str] | None:
    """The scopes in which a name key must be free for a partner of `scope` to take it (None: every scope).

    An organisation's key must be free everywhere, and a group's key free among organisations and in its
    own scope: then a name read in a plan designates one partner at most."""
    return None if scope == ORGANISATIONS else {ORGANISATIONS, scope}


async def taken_by(
    session: AsyncSession, key: str, scope: str, partner_id: uuid.UUID | None
) -> uuid.UUID | None:
    """Another partner that a name key of a partner of `scope` would clash with, if any."""
    blocking = blocking_scopes(scope)
    for owner, owner_scope in await repository.alias_owners(session, key):
        if owner != partner_id and (blocking is None or owner_scope in blocking):
            return owner
    return None


async def find_for_plan(session: AsyncSession, plan: Plan, wordings: Sequence[str]) -> Partner | None:
    """The partner a plan designates by one of `wordings` (tried in order): an organisation, or a group of
    the plan's own scope or else of its territory."""
    keys = [key for key in dict.fromkeys(normalize_name(wording) for wording in wordings) if key]
    scopes = [*plan_scope_keys(plan), ORGANISATIONS]
    found = await repository.alias_matches(session, keys, scopes)
    for key in keys:
        for scope in scopes:
            if (key, scope) in found:
                return await repository.get(session, found[key, scope])
    return None


async def check_parties_fit_plan(
    session: AsyncSession, plan_id: uuid.UUID, partner_ids: Iterable[uuid.UUID | None]
) -> None:
    """Refuse (422) an item of `plan_id` naming a group that belongs to another plan or territory."""
    groups = await repository.groups_among(session, {p for p in partner_ids if p is not None})
    if not groups:
        return
    plan = await repository.get_plan(session, plan_id)
    assert plan is not None  # the item's plan
    for group in groups:
        if not serves(group, plan):
            where = (
                "à un autre plan"
                if group.scope_plan_id is not None
                else f"au territoire « {group.scope_territory} »"
                if group.scope_territory is not None
                else "à aucun plan (périmètre à définir dans l'annuaire)"
            )
            raise InvalidInput(
                f"lead_partner_id/associated_partner_ids : le groupe « {group.name} » appartient "
                f"{where} ; un élément de ce plan ne peut pas le désigner.",
                partner_id=str(group.id),
            )
