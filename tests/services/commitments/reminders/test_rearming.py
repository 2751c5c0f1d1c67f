"""Schedules the scanner disarmed (inactive deadline: next_fire_at NULL) are armed again by whatever makes them
active again — a draft sent, rules enabled again, a delivered item reopened, a milestone no longer met — and
the steps that passed while they were disarmed never fire."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest

from services.commitments.reminders.models import ReminderFiring, ReminderSchedule
from services.commitments.reminders.scanner import DeadlineScanner
from shared.clock import FixedClock
from tests.services.commitments.reminders.requests import Request, draft_request, ok, sent_request

# The clock starts on Monday 2 March 2026, 09:00 UTC. Due Friday 20 March: D-10 is Friday 6 March (passed while
# the schedule is disarmed), D-3 Tuesday 17, D-1 Thursday 19, D on the 20th, D+1 Monday 23.
DUE = "2026-03-20"
DISARMED_UNTIL = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
END = datetime(2026, 3, 21, 10, 0, tzinfo=UTC)
AFTER_REARMING = ["D-3", "D-1", "D"]


@pytest.fixture
def disarmed_then_rearmed(
    admin: httpx.AsyncClient,
    clock: FixedClock,
    tick_until: Callable[..., Awaitable[int]],
    schedule_of: Callable[[str], Awaitable[ReminderSchedule]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> Callable[..., Awaitable[list[str]]]:
    """Tick through the disarmed days, re-arm, tick to the end; returns the steps that fired."""

    async def run(
        scanner: DeadlineScanner, request: Request, rearm: Callable[[], Awaitable[None]]
    ) -> list[str]:
        assert await tick_until(scanner, DISARMED_UNTIL) == 0
        assert (await schedule_of(request.deadline_id)).next_fire_at is None  # the scanner disarmed it
        assert request.item_id not in (await admin.get("/v1/reminders/upcoming", params={"days": 30})).text
        await rearm()
        schedule = await schedule_of(request.deadline_id)
        assert schedule.next_fire_at is not None and schedule.handled_until == clock.now()
        upcoming = ok(await admin.get("/v1/reminders/upcoming", params={"days": 30}))
        assert [u["step"] for u in upcoming if u["item_id"] == request.item_id][:3] == AFTER_REARMING
        await tick_until(scanner, END)
        return [f.step for f in await firings(request.deadline_id)]

    return run


async def test_a_draft_request_given_a_deadline_then_sent_is_reminded(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    disarmed_then_rearmed: Callable[..., Awaitable[list[str]]],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    request = await draft_request(
        admin, await make_objective(), await make_partner("Hauts-de-Seine Habitat"), DUE
    )

    async def send() -> None:
        ok(
            await admin.post(
                f"/v1/items/{request.item_id}/transitions", json={"to": "sent", "letter_reference": "SCX/2"}
            )
        )

    assert await disarmed_then_rearmed(make_scanner(), request, send) == AFTER_REARMING


async def test_rules_disabled_then_enabled_again_remind_again(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    disarmed_then_rearmed: Callable[..., Awaitable[list[str]]],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    request = await sent_request(
        admin, await make_objective(), await make_partner("Vallée Sud Grand Paris"), DUE
    )
    rules_url = f"/v1/items/{request.item_id}/reminder-rules"
    ok(await admin.put(rules_url, json={"enabled": False}))

    async def enable() -> None:
        ok(await admin.put(rules_url, json={"enabled": True}))

    assert await disarmed_then_rearmed(make_scanner(), request, enable) == AFTER_REARMING


async def test_a_delivered_request_reopened_in_progress_is_reminded_of_its_delivery(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    disarmed_then_rearmed: Callable[..., Awaitable[list[str]]],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    request = await draft_request(
        admin, await make_objective(), await make_partner("CSCB"), DUE, kind="delivery"
    )
    for body in ({"to": "sent", "letter_reference": "SCX/3"}, {"to": "accepted"}, {"to": "delivered"}):
        ok(await admin.post(f"/v1/items/{request.item_id}/transitions", json=body))

    async def reopen() -> None:
        ok(await admin.post(f"/v1/items/{request.item_id}/transitions", json={"to": "in_progress"}))

    assert await disarmed_then_rearmed(make_scanner(), request, reopen) == AFTER_REARMING
    assert ok(await admin.get(f"/v1/items/{request.item_id}"))["status"] == "in_progress"


async def test_a_milestone_no_longer_met_is_reminded_again(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    disarmed_then_rearmed: Callable[..., Awaitable[list[str]]],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    request = await draft_request(
        admin, await make_objective(), await make_partner("Préfecture"), DUE, kind="milestone"
    )
    ok(
        await admin.post(
            f"/v1/items/{request.item_id}/transitions", json={"to": "sent", "letter_reference": "SCX/4"}
        )
    )
    ok(await admin.patch(f"/v1/deadlines/{request.deadline_id}", json={"met_on": "2026-03-02"}))

    async def unmeet() -> None:
        ok(await admin.patch(f"/v1/deadlines/{request.deadline_id}", json={"met_on": None}))

    assert await disarmed_then_rearmed(make_scanner(), request, unmeet) == AFTER_REARMING
