from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.commitments.dependencies import ClockDep, EditorDep, PrincipalDep, SessionDep
from services.commitments.items.router import ItemDep, ItemEditorDep
from services.commitments.partners.router import PartnerDep
from services.commitments.plans import service as plans_service
from services.commitments.plans.models import Plan
from services.commitments.reminders import service
from services.commitments.reminders.schemas import ReminderRulesRead, ReminderRulesUpdate, UpcomingReminder

router = APIRouter(prefix="/v1", tags=["Reminders"])


async def valid_plan(plan_id: uuid.UUID, session: SessionDep, _: PrincipalDep) -> Plan:
    return await plans_service.get_plan(session, plan_id)


# Each target is resolved before the role check: another partner's object is a 404 whatever the caller's role.
PlanDep = Annotated[Plan, Depends(valid_plan)]


@router.get("/reminders/upcoming", response_model=list[UpcomingReminder])
async def upcoming_reminders(
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=366, description="Horizon, en jours calendaires.")] = 14,
    limit: Annotated[int, Query(ge=1, le=service.MAX_UPCOMING)] = 200,
) -> list[UpcomingReminder]:
    """What the deadline scanner will send in the coming days: when, which step, to which roles and — for
    admin, city and service keys — to whom, about what (a partner key sees its own items' reminders only)."""
    return await service.upcoming(session, principal, clock, days, limit)


@router.get("/plans/{plan_id}/reminder-rules", response_model=ReminderRulesRead)
async def get_plan_rules(plan: PlanDep, session: SessionDep) -> ReminderRulesRead:
    """The plan's reminder rules: its override of the defaults, and the result."""
    return await service.get_rules(session, "plan", plan.id)


@router.put("/plans/{plan_id}/reminder-rules", response_model=ReminderRulesRead)
async def put_plan_rules(
    plan: PlanDep, body: ReminderRulesUpdate, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ReminderRulesRead:
    """Replace the plan's override (`{}` inherits every default); its items' schedules follow."""
    return await service.put_rules(session, editor, clock, "plan", plan.id, body)


@router.get("/partners/{partner_id}/reminder-rules", response_model=ReminderRulesRead)
async def get_partner_rules(partner: PartnerDep, session: SessionDep) -> ReminderRulesRead:
    """The partner's reminder rules (they apply to the requests it leads, over the plan's)."""
    return await service.get_rules(session, "partner", partner.id)


@router.put("/partners/{partner_id}/reminder-rules", response_model=ReminderRulesRead)
async def put_partner_rules(
    partner: PartnerDep, body: ReminderRulesUpdate, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ReminderRulesRead:
    """Replace the partner's override; the schedules of the requests it leads follow."""
    return await service.put_rules(session, editor, clock, "partner", partner.id, body)


@router.delete("/partners/{partner_id}/reminder-rules", response_model=ReminderRulesRead)
async def delete_partner_rules(
    partner: PartnerDep, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ReminderRulesRead:
    """Drop the partner's override (the defaults apply again under each plan's); returns what now applies."""
    await service.delete_rules(session, editor, clock, "partner", partner.id)
    return await service.get_rules(session, "partner", partner.id)


@router.get("/items/{item_id}/reminder-rules", response_model=ReminderRulesRead)
async def get_item_rules(item: ItemDep, session: SessionDep) -> ReminderRulesRead:
    """The item's reminder rules: its own override, and the result of plan → lead partner → item."""
    return await service.get_rules(session, "item", item.id, item)


@router.put("/items/{item_id}/reminder-rules", response_model=ReminderRulesRead)
async def put_item_rules(
    item: ItemDep, body: ReminderRulesUpdate, session: SessionDep, clock: ClockDep, editor: ItemEditorDep
) -> ReminderRulesRead:
    """Replace the item's override; its deadlines' schedules follow."""
    return await service.put_rules(session, editor, clock, "item", item.id, body, item)


@router.delete("/items/{item_id}/reminder-rules", response_model=ReminderRulesRead)
async def delete_item_rules(
    item: ItemDep, session: SessionDep, clock: ClockDep, editor: ItemEditorDep
) -> ReminderRulesRead:
    """Drop the item's override: the plan's and the partner's rules apply again; returns what now applies."""
    await service.delete_rules(session, editor, clock, "item", item.id)
    return await service.get_rules(session, "item", item.id, item)
