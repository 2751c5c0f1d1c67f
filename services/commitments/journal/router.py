from __future__ import annotations

from fastapi import APIRouter

from services.commitments.dependencies import ClockDep, SessionDep, WriterDep
from services.commitments.items import service as items_service
from services.commitments.items.router import ItemDep
from services.commitments.journal import repository
from services.commitments.journal.schemas import JournalEntryCreate, JournalEntryRead
from shared.clock import paris_today
from shared.problems import InvalidInput

router = APIRouter(prefix="/v1/items/{item_id}/journal", tags=["Journal"])


@router.get("", response_model=list[JournalEntryRead])
async def list_journal(item: ItemDep, session: SessionDep) -> list[JournalEntryRead]:
    """Responses, progress updates and notes on the item, in date order."""
    return [JournalEntryRead.model_validate(e) for e in await repository.list_for_item(session, item.id)]


@router.post("", status_code=201, response_model=JournalEntryRead)
async def add_journal_entry(body: JournalEntryCreate, item: ItemDep, session: SessionDep, clock: ClockDep,
                            writer: WriterDep) -> JournalEntryRead:
    """Record a partner response, a progress update (with its %) or a note."""
    on = body.occurred_on or paris_today(clock)
    if on > paris_today(clock):
        raise InvalidInput("occurred_on : une entrée de journal ne peut pas être datée dans le futur.")
    entry = await items_service.add_journal_entry(session, writer, clock, item, kind=body.kind, text=body.text, on=on,
                                                  progress_percent=body.progress_percent,
                                                  evidence_url=body.evidence_url, author_name=body.author_name)
    return JournalEntryRead.model_validate(entry)
