"""Import a plan from its text: the directory is completed, the plan created, each bullet becomes an item.

Importing the same plan again changes nothing: the plan is found by its import key and each item by its
place in the plan ("I.A.1"); only what is missing is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.auth.principal import Principal
from services.commitments.deadlines.schemas import DeadlineCreate
from services.commitments.deadlines.service import add_deadline
from services.commitments.items import service as items_service
from services.commitments.items.lifecycle import ItemKind
from services.commitments.items.models import Item
from services.commitments.items.schemas import ItemCreate
from services.commitments.outbox.recorder import record_event
from services.commitments.partners import repository as partners_repository
from services.commitments.partners.models import Partner
from services.commitments.partners.naming import normalize_name
from services.commitments.partners.schemas import PartnerCreate, PartnerKind
from services.commitments.partners.service import create_partner, resolve_by_name
from services.commitments.plans import repository
from services.commitments.plans.known_partners import KNOWN_PARTNERS
from services.commitments.plans.models import Axis, Objective, Plan
from services.commitments.plans.plan_text import ParsedItem, parse_plan_text
from shared.clock import Clock
from shared.events.commitments import AxisCreated, ObjectiveCreated, PlanCreated


@dataclass
class ImportReport:
    plan_id: uuid.UUID
    created_plan: bool
    axes: int
    objectives: int
    items: int
    created_items: int = 0
    created_partners: list[str] = field(default_factory=list)
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (reference, reasons)


async def _ensure_directory(session: AsyncSession, actor: Principal, clock: Clock, report: ImportReport) -> None:
    """Add the partners the importer knows by name (with aliases and group members) when missing."""
    for known in sorted(KNOWN_PARTNERS, key=lambda k: bool(k.members)):
        if await resolve_by_name(session, known.name) is not None:
            continue
        member_ids = [p.id for name in known.members if (p := await resolve_by_name(session, name)) is not None]
        usable_aliases = [a for a in known.aliases
                          if await partners_repository.alias_owner(session, normalize_name(a)) is None]
        await create_partner(session, actor, clock, PartnerCreate(
            name=known.name, kind=PartnerKind(known.kind), aliases=usable_aliases,
            is_group=known.kind == "group", member_ids=member_ids))
        report.created_partners.append(known.name)


async def _partner_for(session: AsyncSession, actor: Principal, clock: Clock, name: str,
                       report: ImportReport) -> Partner:
    partner = await resolve_by_name(session, name)
    if partner is None:
        partner = await create_partner(session, actor, clock, PartnerCreate(name=name, kind=PartnerKind.OTHER))
        report.created_partners.append(name)
    return partner


async def _existing_items(session: AsyncSession, plan_id: uuid.UUID) -> set[str]:
    query = select(Item.source_key).where(Item.plan_id == plan_id, Item.source_key.is_not(None))
    return {key for key in (await session.scalars(query)).all() if key}


async def _create_item(session: AsyncSession, actor: Principal, clock: Clock, objective: Objective,
                       parsed: ParsedItem, tags: Sequence[str], report: ImportReport) -> None:
    lead = await _partner_for(session, actor, clock, parsed.lead_partner, report) if parsed.lead_partner else None
    associated = [(await _partner_for(session, actor, clock, name, report)).id for name in parsed.associated_partners]
    reasons = "\n".join(parsed.review_reasons) or None
    item = await items_service.create_item(
        session, actor, clock,
        ItemCreate(objective_id=objective.id, kind=ItemKind(parsed.kind), title=parsed.title,
                   plan_text=parsed.text, lead_partner_id=lead.id if lead else None,
                   associated_partner_ids=associated, tags=list(tags)),
        source_key=parsed.source_key, needs_review=parsed.needs_review, review_reason=reasons)
    if parsed.target is not None:
        await add_deadline(session, actor, clock, item, DeadlineCreate(
            kind="delivery", due_on=parsed.target.on, original_wording=parsed.target.wording))
    if parsed.needs_review:
        report.flagged.append((parsed.source_key, reasons or ""))
    report.created_items += 1


async def import_plan_text(session: AsyncSession, actor: Principal, clock: Clock, text: str, *, commune: str,
                           territory: str | None = None, title: str | None = None,
                           tags: Sequence[str] = ()) -> ImportReport:
    """Create (or complete) the plan written in `text`; returns what was created and what needs review."""
    parsed = parse_plan_text(text)
    plan_title = title or (f"{parsed.title.capitalize()} — {territory}" if territory else parsed.title.capitalize())
    import_key = normalize_name(f"{commune} {territory or ''} {parsed.title}")[:200]
    plan = await repository.get_by_import_key(session, import_key)
    report = ImportReport(plan_id=uuid.UUID(int=0), created_plan=plan is None, axes=len(parsed.axes),
                          objectives=sum(len(a.objectives) for a in parsed.axes),
                          items=sum(len(o.items) for a in parsed.axes for o in a.objectives))
    await _ensure_directory(session, actor, clock, report)
    if plan is None:
        plan = Plan(title=plan_title, commune=commune, territory=territory, import_key=import_key,
                    created_at=clock.now())
        session.add(plan)
        await session.flush()
        record_event(session, PlanCreated(plan_id=plan.id, title=plan.title, commune=commune), actor, clock)
    report.plan_id = plan.id
    axes = {a.number: a for a in await repository.axes_of(session, plan.id)}
    objectives = {(o.axis_id, o.letter): o for o in await repository.objectives_of(session, plan.id)}
    existing = await _existing_items(session, plan.id)
    objective_position = 0
    for axis_position, parsed_axis in enumerate(parsed.axes, start=1):
        axis = axes.get(parsed_axis.number)
        if axis is None:
            axis = Axis(plan_id=plan.id, number=parsed_axis.number, title=parsed_axis.title, position=axis_position)
            session.add(axis)
            await session.flush()
            record_event(session, AxisCreated(axis_id=axis.id, plan_id=plan.id, number=axis.number, title=axis.title,
                                              position=axis.position), actor, clock)
        for parsed_objective in parsed_axis.objectives:
            objective_position += 1
            objective = objectives.get((axis.id, parsed_objective.letter))
            if objective is None:
                objective = Objective(plan_id=plan.id, axis_id=axis.id, letter=parsed_objective.letter,
                                      title=parsed_objective.title, context=parsed_objective.context,
                                      position=objective_position)
                session.add(objective)
                await session.flush()
                record_event(session, ObjectiveCreated(
                    objective_id=objective.id, axis_id=axis.id, plan_id=plan.id, letter=objective.letter,
                    title=objective.title, position=objective.position), actor, clock)
            for parsed_item in parsed_objective.items:
                if parsed_item.source_key not in existing:
                    await _create_item(session, actor, clock, objective, parsed_item, tags, report)
    return report
