"""The partner directory: organisations, their aliases, and groups of them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.history.service import diff, record_change
from services.commitments.outbox.recorder import record_event
from services.commitments.partners import repository, scopes
from services.commitments.partners.models import Partner, PartnerAlias
from services.commitments.partners.naming import normalize_name
from services.commitments.partners.schemas import PartnerCreate, PartnerKind, PartnerRead, PartnerUpdate
from services.commitments.plans.models import Plan
from shared.auth import Principal
from shared.clock import Clock
from shared.events.commitments import PartnerCreated, PartnerUpdated
from shared.problems import Conflict, InvalidInput, NotFound


@dataclass
class GroupCache:
    """Which groups each partner belongs to, read whole and kept a few seconds per process: listing items by
    partner asks on every request, memberships are few and change rarely (a change shows within
    `ttl_seconds`)."""

    ttl_seconds: float = 5.0
    _groups: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    _expires: float = 0.0
    _version: int = -1

    async def partner_and_groups(self, session: AsyncSession, partner_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """The partner's id and those of the groups it belongs to."""
        if self._expires <= time.monotonic() or self._version != _memberships.version:
            self._version = _memberships.version
            self._groups = await repository.groups_by_member(session)
            self._expires = time.monotonic() + self.ttl_seconds
        return frozenset({partner_id, *self._groups.get(partner_id, ())})


@dataclass
class _MembershipVersion:
    """Bumped when a transaction of this process that changed memberships commits: this process's caches
    re-read them at once (other replicas within the cache lifetime)."""

    version: int = 0

    def changed_by(self, session: AsyncSession) -> None:
        def bump(_session: object) -> None:
            self.version += 1

        event.listen(session.sync_session, "after_commit", bump, once=True)


_memberships = _MembershipVersion()


def visible_to(principal: Principal, partner_id: uuid.UUID) -> bool:
    """A partner key sees its own organisation and the groups it belongs to; staff see everyone."""
    return not principal.is_partner or partner_id in principal.visible_partner_ids


async def get_visible(session: AsyncSession, principal: Principal, partner_id: uuid.UUID) -> Partner:
    """The partner, or NotFound when it does not exist or is not the caller's to see."""
    partner = await repository.get(session, partner_id) if visible_to(principal, partner_id) else None
    if partner is None:
        raise NotFound("Partenaire introuvable.")
    return partner


async def list_visible(
    session: AsyncSession, principal: Principal, kind: str | None = None
) -> Sequence[Partner]:
    """The directory as the caller may see it."""
    only = principal.visible_partner_ids if principal.is_partner else None
    return await repository.list_partners(session, only_ids=only, kind=kind)


async def to_read(session: AsyncSession, partners: Sequence[Partner]) -> list[PartnerRead]:
    """Partners with their aliases and group members, as the API shows them."""
    members = await repository.members_of(session, [p.id for p in partners if p.is_group])
    return [
        PartnerRead(
            id=p.id,
            name=p.name,
            kind=PartnerKind(p.kind),
            siret=p.siret,
            is_group=p.is_group,
            aliases=[a.alias for a in p.aliases if a.alias != p.name],
            member_ids=members.get(p.id, []),
            scope_plan_id=p.scope_plan_id,
            scope_territory=p.scope_territory,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in partners
    ]


async def _set_aliases(session: AsyncSession, partner: Partner, names: Sequence[str]) -> None:
    """Make the partner's name and `names` its matching keys, in its scope.

    Rows are changed in place, and the keys dropped are deleted (and flushed) before new ones are inserted:
    the unit of work inserts before it deletes, so replacing the whole list would make a key that moves
    (or stays) clash with itself on the unique index."""
    scope = scopes.scope_key(partner)
    wanted: dict[str, str] = {}
    for alias in [partner.name, *names]:
        key = normalize_name(alias)
        if not key:
            raise InvalidInput(f"name/aliases : nom sans lettre ni chiffre : « {alias} ».")
        if len(key) > 300:  # NFKD can lengthen a name past the column
            raise InvalidInput(f"name/aliases : nom trop long une fois normalisé : « {alias[:40]}… ».")
        if (
            key not in wanted
            and (owner := await scopes.taken_by(session, key, scope, partner.id)) is not None
        ):
            if alias == partner.name:
                raise Conflict(f"Un partenaire s'appelle déjà « {alias} ».", partner_id=str(owner))
            raise Conflict(f"« {alias} » désigne déjà un autre partenaire.", partner_id=str(owner))
        wanted.setdefault(key, alias)
    current = {row.normalized: row for row in partner.aliases}
    dropped = [row for key, row in current.items() if key not in wanted]
    for row in dropped:
        partner.aliases.remove(row)
    if dropped:
        await session.flush()
    try:
        async with session.begin_nested():  # another request may have taken a key since it was checked
            for key, alias in wanted.items():
                if (existing := current.get(key)) is None:
                    partner.aliases.append(PartnerAlias(alias=alias, normalized=key, scope_key=scope))
                else:
                    existing.alias, existing.scope_key = alias, scope
    except IntegrityError as exc:
        raise Conflict(
            "Un autre partenaire vient de prendre l'un de ces noms : recharger l'annuaire et réessayer."
        ) from exc


async def _check_members(session: AsyncSession, partner: Partner, member_ids: Sequence[uuid.UUID]) -> None:
    if member_ids and not partner.is_group:
        raise InvalidInput("member_ids : seul un groupe de partenaires a des membres.")
    unknown = set(member_ids) - await repository.existing_ids(session, member_ids)
    if unknown:
        raise InvalidInput(f"member_ids : membres inconnus : {', '.join(sorted(map(str, unknown)))}.")
    if partner.id in member_ids:
        raise InvalidInput("member_ids : un groupe ne peut pas être membre de lui-même.")


async def _checked_scope(
    session: AsyncSession, is_group: bool, plan_id: uuid.UUID | None, territory: str | None
) -> tuple[uuid.UUID | None, str | None]:
    """A group's scope is one plan or one territory; an organisation has none."""
    if not is_group:
        if plan_id is not None or territory is not None:
            raise InvalidInput(
                "scope_plan_id/scope_territory : seul un groupe appartient à un plan ou à un "
                "territoire ; une organisation vaut pour tous les plans."
            )
        return None, None
    if (plan_id is None) == (territory is None):
        raise InvalidInput(
            "scope_plan_id/scope_territory : un groupe appartient à un plan (scope_plan_id) ou "
            "à un territoire (scope_territory), l'un des deux exactement."
        )
    if plan_id is not None and await repository.get_plan(session, plan_id) is None:
        raise InvalidInput("scope_plan_id ne désigne aucun plan.")
    if territory is not None and not normalize_name(territory):
        raise InvalidInput(f"scope_territory : territoire sans lettre ni chiffre : « {territory} ».")
    return plan_id, territory


async def create_partner(
    session: AsyncSession, actor: Principal, clock: Clock, data: PartnerCreate
) -> Partner:
    """Add an organisation (or a group, with its plan or territory) to the directory."""
    now = clock.now()
    is_group = data.is_group or data.kind is PartnerKind.GROUP
    scope_plan_id, scope_territory = await _checked_scope(
        session, is_group, data.scope_plan_id, data.scope_territory
    )
    partner = Partner(
        name=data.name,
        kind=data.kind.value,
        is_group=is_group,
        siret=data.siret,
        scope_plan_id=scope_plan_id,
        scope_territory=scope_territory,
        created_at=now,
        updated_at=now,
        aliases=[],
    )
    session.add(partner)
    await session.flush()
    await _set_aliases(session, partner, data.aliases)
    await _check_members(session, partner, data.member_ids)
    await repository.replace_members(session, partner.id, list(dict.fromkeys(data.member_ids)))
    _memberships.changed_by(session)
    record_change(
        session,
        actor,
        clock,
        entity_type="partner",
        entity_id=partner.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    record_event(
        session,
        PartnerCreated(
            partner_id=partner.id,
            name=partner.name,
            kind=partner.kind,
            is_group=is_group,
            member_ids=list(dict.fromkeys(data.member_ids)),
        ),
        actor,
        clock,
    )
    return partner


async def _move_scope(
    session: AsyncSession, partner: Partner, plan_id: uuid.UUID | None, territory: str | None
) -> None:
    """Give a group another plan or territory, unless an item of a plan outside it names the group."""
    plan_id, territory = await _checked_scope(session, partner.is_group, plan_id, territory)
    partner.scope_plan_id, partner.scope_territory = plan_id, territory
    outside = [
        plan
        for plan in await repository.plans_naming(session, partner.id)
        if not scopes.serves(partner, plan)
    ]
    if outside:
        titles = ", ".join(f"« {plan.title} »" for plan in outside)
        raise Conflict(
            f"Des éléments d'autres plans désignent ce groupe ({titles}) : il ne peut pas changer "
            "de périmètre.",
            plan_ids=[str(plan.id) for plan in outside],
        )


async def update_partner(
    session: AsyncSession, actor: Principal, clock: Clock, partner: Partner, data: PartnerUpdate
) -> Partner:
    """Rename, re-type, re-alias a partner, change a group's members or its plan or territory."""
    changes = data.model_dump(exclude_unset=True, mode="json")
    for required in ("name", "kind", "aliases", "member_ids"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} ne peut pas être null.")
    before: dict[str, Any] = {
        "name": partner.name,
        "kind": partner.kind,
        "siret": partner.siret,
        "aliases": [a.alias for a in partner.aliases if a.alias != partner.name],
        "member_ids": [str(m) for m in (await repository.members_of(session, [partner.id]))[partner.id]],
        "scope_plan_id": str(partner.scope_plan_id) if partner.scope_plan_id else None,
        "scope_territory": partner.scope_territory,
    }
    if data.name is not None:
        partner.name = data.name
    if data.kind is not None:
        partner.kind = data.kind.value
    if "siret" in changes:
        partner.siret = data.siret
    rescoped = "scope_plan_id" in changes or "scope_territory" in changes
    if rescoped:
        await _move_scope(session, partner, data.scope_plan_id, data.scope_territory)
    if data.name is not None or data.aliases is not None or rescoped:
        await _set_aliases(session, partner, data.aliases if data.aliases is not None else before["aliases"])
    members = [uuid.UUID(m) for m in before["member_ids"]]
    if data.member_ids is not None:
        await _check_members(session, partner, data.member_ids)
        members = list(dict.fromkeys(data.member_ids))
        await repository.replace_members(session, partner.id, members)
        _memberships.changed_by(session)
    changed = diff(before, changes)
    if changed:
        partner.updated_at = clock.now()
        record_change(
            session,
            actor,
            clock,
            entity_type="partner",
            entity_id=partner.id,
            action="updated",
            changes=changed,
        )
        record_event(
            session,
            PartnerUpdated(partner_id=partner.id, name=partner.name, kind=partner.kind, member_ids=members),
            actor,
            clock,
        )
    return partner


async def resolve_by_name(session: AsyncSession, name: str, plan: Plan | None = None) -> Partner | None:
    """The partner a name or alias designates: an organisation, or (for a plan) one of the groups it may name."""
    if plan is not None:
        return await scopes.find_for_plan(session, plan, [name])
    found = await repository.alias_matches(session, [normalize_name(name)], [scopes.ORGANISATIONS])
    return await repository.get(session, next(iter(found.values()))) if found else None
