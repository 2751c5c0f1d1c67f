from __future__ import annotations

from fastapi import APIRouter

from services.commitments.dependencies import ClockDep, SessionDep
from services.commitments.items.router import ItemAccessDep
from services.commitments.journal import service
from services.commitments.journal.schemas import JournalEntryCreate, JournalEntryRead

router = APIRouter(prefix="/v1/items/{item_id}/journal", tags=["Journal"])


@router.get("", response_model=list[JournalEntryRead])
async def list_journal(access: ItemAccessDep, session: SessionDep) -> list[JournalEntryRead]:
    """Responses, progress updates and notes on the item, in date order, with their authors."""
    return await service.list_entries(session, access.principal, access.item)


@router.post("", status_code=201, response_model=JournalEntryRead)
async def add_journal_entry(
    body: JournalEntryCreate, access: ItemAccessDep, session: SessionDep, clock: ClockDep
) -> JournalEntryRead:
    """Record a response or a progress update (the lead partner or the city) or a note (also an associated
    partner); the author is the caller. See docs/permissions.md."""
    entry = await service.add_entry(session, access, clock, body)
    return (await service.to_read(session, access.principal, [entry]))[0]
