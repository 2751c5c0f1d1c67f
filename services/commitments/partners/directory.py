"""Load a directory file (docs/directory.md): the organisations a city works with, and its groups.

The file is data, an installation's own; loading it again changes nothing. A partner already in the
directory (found by its name, acronym or an alias) gains what the file adds (aliases, group members) and
loses nothing: what people changed in the directory since stays.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.partners import repository, scopes
from services.commitments.partners.models import Partner
from services.commitments.partners.naming import normalize_name
from services.commitments.partners.schemas import PartnerCreate, PartnerKind, PartnerUpdate, Siret
from services.commitments.partners.service import create_partner, update_partner
from shared.auth import Principal
from shared.clock import Clock
from shared.input_types import Name, SingleLine

FORMAT: Final = "engagements-annuaire/1"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine
    acronym: SingleLine | None = None
    aliases: list[SingleLine] = Field(default_factory=list, max_length=50)
    note: str | None = None  # for the people who keep the file; not loaded

    def wordings(self) -> list[str]:
        return list(dict.fromkeys([self.name, *([self.acronym] if self.acronym else []), *self.aliases]))


class DirectoryOrganisation(_Entry):
    kind: PartnerKind
    siret: Siret | None = None

    @model_validator(mode="after")
    def _not_a_group(self) -> DirectoryOrganisation:
        if self.kind is PartnerKind.GROUP:
            raise ValueError(f"« {self.name} » : un groupe se déclare dans « groups », avec son périmètre")
        return self


class DirectoryScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    territory: Name | None = None
    plan_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DirectoryScope:
        if (self.territory is None) == (self.plan_id is None):
            raise ValueError(
                "un groupe appartient à un territoire (« territory ») ou à un plan (« plan_id »), "
                "l'un des deux exactement"
            )
        return self


class DirectoryGroup(_Entry):
    scope: DirectoryScope
    members: list[SingleLine] = Field(
        default_factory=list, max_length=500, description="Noms (ou alias) d'organisations de l'annuaire."
    )


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["engagements-annuaire/1"] = FORMAT
    description: str | None = None
    partners: list[DirectoryOrganisation] = Field(default_factory=list)
    groups: list[DirectoryGroup] = Field(default_factory=list)


@dataclass
class DirectoryReport:
    created: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # aliases or members added
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # French: what the file asked that could not be done


async def _find(session: AsyncSession, wordings: list[str], scope: str) -> Partner | None:
    keys = [key for key in dict.fromkeys(normalize_name(w) for w in wordings) if key]
    found = await repository.alias_matches(session, keys, [scope])
    first = next((found[key, scope] for key in keys if (key, scope) in found), None)
    return None if first is None else await repository.get(session, first)


async def _free_aliases(
    session: AsyncSession, entry: _Entry, scope: str, partner: Partner | None, report: DirectoryReport
) -> list[str]:
    """The entry's other names that no other partner bears, in the order of the file."""
    own = {alias.normalized for alias in partner.aliases} if partner is not None else set()
    free: list[str] = []
    for wording in entry.wordings()[1:]:
        key = normalize_name(wording)
        if not key or key in own:
            continue
        if await scopes.taken_by(session, key, scope, partner.id if partner else None) is not None:
            report.warnings.append(
                f"« {wording} » (pour « {entry.name} ») désigne déjà un autre partenaire : alias ignoré."
            )
            continue
        own.add(key)
        free.append(wording)
    return free


async def _load_organisation(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    entry: DirectoryOrganisation,
    report: DirectoryReport,
) -> None:
    partner = await _find(session, entry.wordings(), scopes.ORGANISATIONS)
    if (
        partner is None
        and await scopes.taken_by(session, normalize_name(entry.name), scopes.ORGANISATIONS, None) is not None
    ):
        report.warnings.append(f"« {entry.name} » est le nom d'un groupe : organisation non ajoutée.")
        return
    aliases = await _free_aliases(session, entry, scopes.ORGANISATIONS, partner, report)
    if partner is None:
        await create_partner(
            session,
            actor,
            clock,
            PartnerCreate(name=entry.name, kind=entry.kind, aliases=aliases, siret=entry.siret),
        )
        report.created.append(entry.name)
    elif aliases:
        kept = [alias.alias for alias in partner.aliases if alias.alias != partner.name]
        await update_partner(session, actor, clock, partner, PartnerUpdate(aliases=[*kept, *aliases]))
        report.completed.append(partner.name)
    else:
        report.unchanged.append(partner.name)


async def _load_group(
    session: AsyncSession, actor: Principal, clock: Clock, entry: DirectoryGroup, report: DirectoryReport
) -> None:
    scope = scopes.group_scope_key(uuid.UUID(int=0), entry.scope.plan_id, entry.scope.territory)
    group = await _find(session, entry.wordings(), scope)
    members: list[uuid.UUID] = []
    for name in entry.members:
        member = await _find(session, [name], scopes.ORGANISATIONS)
        if member is None:
            report.warnings.append(
                f"« {name} » (membre de « {entry.name} ») n'est pas dans l'annuaire : membre ignoré."
            )
        elif member.id not in members:
            members.append(member.id)
    aliases = await _free_aliases(session, entry, scope, group, report)
    if group is None:
        await create_partner(
            session,
            actor,
            clock,
            PartnerCreate(
                name=entry.name,
                kind=PartnerKind.GROUP,
                is_group=True,
                aliases=aliases,
                member_ids=members,
                scope_plan_id=entry.scope.plan_id,
                scope_territory=entry.scope.territory,
            ),
        )
        report.created.append(entry.name)
        return
    current = (await repository.members_of(session, [group.id]))[group.id]
    missing = [member for member in members if member not in current]
    if not aliases and not missing:
        report.unchanged.append(group.name)
        return
    kept = [alias.alias for alias in group.aliases if alias.alias != group.name]
    await update_partner(
        session,
        actor,
        clock,
        group,
        PartnerUpdate(
            **({"aliases": [*kept, *aliases]} if aliases else {}),
            **({"member_ids": [*current, *missing]} if missing else {}),
        ),
    )
    report.completed.append(group.name)


async def import_directory(
    session: AsyncSession, actor: Principal, clock: Clock, directory: DirectoryFile
) -> DirectoryReport:
    """Add the file's organisations and groups to the directory, completing those already there."""
    report = DirectoryReport()
    for organisation in directory.partners:
        await _load_organisation(session, actor, clock, organisation, report)
    for group in directory.groups:
        await _load_group(session, actor, clock, group, report)
    return report
