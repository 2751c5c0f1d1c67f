"""The weekly digest: "approaching" reminders held for contacts who chose it go out as one mail per contact.

Stateless and restart-safe: each pass looks at the latest digest slot (by default Monday 08:30, Paris time)
and gathers every held reminder created before it, so a process that was down at the slot catches up."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries import repository
from services.notifications.deliveries.models import Delivery, DeliveryKind, DeliveryStatus
from services.notifications.deliveries.service import DIGEST_TYPE, EMAIL, insert_ignoring_duplicates, new_row
from shared.clock import PARIS, Clock


def latest_slot(now: datetime, weekday: int, at: str) -> datetime:
    """The most recent digest time at or before `now` (weekday 0 = Monday, `at` = "HH:MM", Paris time)."""
    local = now.astimezone(PARIS)
    hour, minute = (int(part) for part in at.split(":"))
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    slot = datetime.combine(day, time(hour, minute), tzinfo=PARIS)
    if slot > local:
        slot = datetime.combine(day - timedelta(days=7), time(hour, minute), tzinfo=PARIS)
    return slot


def digest_event_id(contact_id: uuid.UUID, slot: datetime) -> uuid.UUID:
    """One digest per contact per slot, whichever replica gathers it."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:engagements:digest:{contact_id}:{slot.isoformat()}")


async def gather_digests(session: AsyncSession, clock: Clock, weekday: int, at: str, domain: str,
                         limit: int = 5000) -> int:
    """Turn the reminders held before the latest slot into one pending digest per contact; returns how many."""
    now = clock.now()
    slot = latest_slot(now, weekday, at)
    held: dict[uuid.UUID, list[Delivery]] = defaultdict(list)
    for row in await repository.held_for_digest(session, slot, limit):
        held[row.contact_id].append(row)
    for contact_id, rows in held.items():
        event_id = digest_event_id(contact_id, slot)
        await insert_ignoring_duplicates(session, [new_row(
            event_id=event_id, contact_id=contact_id, kind=DeliveryKind.DIGEST, event_type=DIGEST_TYPE,
            event={"slot": slot.isoformat()}, item_id=None, deadline_id=None, partner_id=rows[0].partner_id,
            audience=rows[0].audience, held=False, now=now, domain=domain)])
        digest = await repository.by_key(session, event_id, contact_id, EMAIL)
        for row in rows:
            row.status, row.digest_id, row.updated_at = DeliveryStatus.DIGESTED.value, digest.id, now
    await session.flush()
    return len(held)
