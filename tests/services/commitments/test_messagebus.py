"""Domain events: handled when published, in the order listed, in the publisher's transaction; a handler's
error reaches the publisher and everything rolls back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments import messagebus, subscriptions
from services.commitments.deadlines.events import DeadlineDated
from services.commitments.deadlines.models import Deadline
from services.commitments.reminders.models import ReminderSchedule
from shared.clock import FixedClock
from shared.problems import Conflict


@dataclass(frozen=True)
class Asked:
    name: str


@dataclass(frozen=True)
class Answered:
    name: str


@pytest.fixture
def wired() -> Iterator[None]:
    """The tests below wire their own reactions; the service's are put back afterwards."""
    yield
    subscriptions.install()


async def test_handlers_run_when_published_in_order_and_their_events_after_the_current_one(
    wired: None,
) -> None:
    seen: list[str] = []

    async def first(session: AsyncSession, clock: Any, event: Asked) -> None:
        seen.append(f"first {event.name}")
        await messagebus.publish(session, clock, Answered(event.name))
        seen.append("first done")  # its own event waits for the handlers of the current one

    async def second(_session: AsyncSession, _clock: Any, event: Asked) -> None:
        seen.append(f"second {event.name}")

    async def answer(_session: AsyncSession, _clock: Any, event: Answered) -> None:
        seen.append(f"answered {event.name}")

    messagebus.install({Asked: [first, second], Answered: [answer]})
    session = AsyncSession()
    await messagebus.publish(session, FixedClock(), Asked("a"))
    assert seen == ["first a", "first done", "second a", "answered a"]
    await messagebus.publish(session, FixedClock(), Asked("b"))
    assert seen[4:] == ["first b", "first done", "second b", "answered b"]


async def test_a_handler_that_raises_stops_the_dispatch_and_reaches_the_publisher(wired: None) -> None:
    seen: list[str] = []

    async def refuse(session: AsyncSession, clock: Any, event: Asked) -> None:
        await messagebus.publish(session, clock, Answered(event.name))  # queued, then dropped with the error
        raise Conflict("Refusé.")

    async def never(_session: AsyncSession, _clock: Any, event: object) -> None:
        seen.append(f"never {event}")

    async def answer(_session: AsyncSession, _clock: Any, event: Answered) -> None:
        seen.append(f"answered {event.name}")

    messagebus.install({Asked: [refuse, never], Answered: [answer]})
    session = AsyncSession()
    with pytest.raises(Conflict):
        await messagebus.publish(session, FixedClock(), Asked("a"))
    assert seen == []
    await messagebus.publish(session, FixedClock(), Answered("b"))  # the session dispatches again
    assert seen == ["answered b"]


async def test_an_event_nobody_handles_is_refused(wired: None) -> None:
    messagebus.install({Answered: []})
    with pytest.raises(LookupError, match="Asked"):
        await messagebus.publish(AsyncSession(), FixedClock(), Asked("a"))
    with pytest.raises(LookupError, match="Answered"):
        await messagebus.publish(AsyncSession(), FixedClock(), Answered("a"))


async def test_a_domain_error_in_a_handler_rolls_the_whole_request_back(
    app: Any, admin: Any, make_objective: Any, make_partner: Any, wired: None
) -> None:
    item = (
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "request",
                "title": "Maison France services",
                "plan_text": "La Ville demande à l'État d'ouvrir une maison France services",
                "lead_partner_id": str(await make_partner("État")),
            },
        )
    ).json()

    async def veto(_session: AsyncSession, _clock: Any, event: DeadlineDated) -> None:
        raise Conflict(f"Échéance refusée ({event.deadline.kind}).")

    messagebus.install(
        {**subscriptions.HANDLERS, DeadlineDated: [*subscriptions.HANDLERS[DeadlineDated], veto]}
    )
    deadline = {"kind": "response", "due_on": "2026-04-15"}
    refused = await admin.post(f"/v1/items/{item['id']}/deadlines", json=deadline)
    assert refused.status_code == 409 and refused.json()["detail"] == "Échéance refusée (response)."
    async with app.state.sessionmaker() as session:
        item_id = uuid.UUID(item["id"])
        # Neither the deadline nor what the reminders' handler (listed first) wrote for it was kept.
        assert (
            await session.scalar(
                select(func.count()).select_from(Deadline).where(Deadline.item_id == item_id)
            )
            == 0
        )
        assert (
            await session.scalar(
                select(func.count()).select_from(ReminderSchedule).where(ReminderSchedule.item_id == item_id)
            )
            == 0
        )
    subscriptions.install()
    kept = await admin.post(f"/v1/items/{item['id']}/deadlines", json=deadline)
    assert kept.status_code == 201
    async with app.state.sessionmaker() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(ReminderSchedule).where(ReminderSchedule.item_id == item_id)
            )
            == 1
        )
