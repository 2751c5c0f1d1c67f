"""A deadline added to an item while another transaction answers it (PostgreSQL, where both can run at once):
the two are serialised on the item's row, so the answer sees the deadline and meets it, and their events reach
the outbox in the order the transactions commit, the order the reporting projector applies them in (it meets
the response deadline it knows when the item is answered)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from services.commitments.deadlines import service as deadlines_service
from services.commitments.deadlines.models import Deadline
from services.commitments.deadlines.schemas import DeadlineCreate
from services.commitments.items import service as items_service
from services.commitments.items.permissions import ItemAccess, Relation
from services.commitments.items.schemas import TransitionRequest
from services.commitments.outbox.models import OutboxMessage
from shared.auth import SYSTEM
from shared.clock import FixedClock
from tests.waiting import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

TIMEOUT = 10.0


async def test_a_deadline_added_while_the_item_is_answered_is_met_and_published_first(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
) -> None:
    partner = await make_partner(f"Bailleur {uuid.uuid4().hex[:6]}")
    created = await admin.post(
        "/v1/items",
        json={
            "objective_id": str(await make_objective()),
            "kind": "request",
            "title": "Demande",
            "plan_text": "La Ville demande au bailleur un projet.",
            "lead_partner_id": str(partner),
        },
    )
    assert created.status_code == 201, created.text
    item_id = uuid.UUID(created.json()["id"])
    sent = await admin.post(
        f"/v1/items/{item_id}/transitions", json={"to": "sent", "letter_reference": "L/1"}
    )
    assert sent.status_code == 200, sent.text

    async with app.state.sessionmaker() as adding:
        await adding.begin()
        item = await items_service.get_visible(adding, SYSTEM, item_id)
        await deadlines_service.add_deadline(
            adding, SYSTEM, clock, item, DeadlineCreate(kind="response", due_on=date(2026, 12, 31))
        )
        await adding.flush()  # the deadline and its event written, not committed

        async def answer() -> None:
            async with app.state.sessionmaker() as session, session.begin():
                answered = await items_service.get_visible(session, SYSTEM, item_id)
                await items_service.transition(
                    session,
                    ItemAccess(answered, SYSTEM, Relation.NONE),
                    clock,
                    TransitionRequest(to="accepted"),
                )

        answering = asyncio.create_task(answer())
        try:
            await wait_until(
                lambda: _waits_on_a_lock(app), "the answer to wait for the deadline's transaction", TIMEOUT
            )
        finally:
            await adding.commit()
        await asyncio.wait_for(answering, TIMEOUT)

    async with app.state.sessionmaker() as session:
        deadline = (await session.scalars(select(Deadline).where(Deadline.item_id == item_id))).one()
        events = list(
            await session.scalars(
                select(OutboxMessage.event_type)
                .where(OutboxMessage.payload.contains(str(item_id)))
                .order_by(OutboxMessage.position)
            )
        )
    assert deadline.met_on is not None  # the answer saw the deadline
    assert events[-2:] == ["deadline.set", "item.status_changed"]


async def _waits_on_a_lock(app: FastAPI) -> bool:
    async with app.state.engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)
