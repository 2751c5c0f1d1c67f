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
from services.notifications.deliveries.repository import insert_ignoring_duplicates
from services.notifications.deliveries.service import DIGEST_TYPE, EMAIL, new_row
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


def next_slot(now: datetime, weekday: int, at: str) -> datetime:
    """The first digest time after `now` (Paris time): a reminder held now goes out then."""
    return latest_slot(now, weekday, at) + timedelta(days=7)


def digest_event_id(contact_id: uuid.UUID, slot: datetime, sequence: int = 0) -> uuid.UUID:
    """One digest per contact per slot, whichever replica gathers it; `sequence` numbers the follow-ups of a
    slot whose digest was already on its way when more reminders turned up."""
    follow_up = f":{sequence}" if sequence else ""
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"urn:engagements:digest:{contact_id}:{slot.isoformat()}{follow_up}"
    )


# Follow-up digests of one slot for one contact, at most (each needs the previous one claimed meanwhile).
MAX_FOLLOW_UPS = 20


async def open_digest(
    session: AsyncSession, contact_id: uuid.UUID, slot: datetime, first: Delivery, now: datetime, domain: str
) -> Delivery | None:
    """The contact's digest of this slot that may still take reminders: pending and never claimed by a
    sender (locked on PostgreSQL until this transaction ends, so no sender claims it meanwhile). When the
    slot's digest is already claimed or sent, a follow-up digest; None if there are too many already."""
    lock = session.bind.dialect.name == "postgresql"
    for sequence in range(MAX_FOLLOW_UPS):
        event_id = digest_event_id(contact_id, slot, sequence)
        await insert_ignoring_duplicates(
            session,
            [
                new_row(
                    event_id=event_id,
                    contact_id=contact_id,
                    kind=DeliveryKind.DIGEST,
                    event_type=DIGEST_TYPE,
                    event={"slot": slot.isoformat(), "sequence": sequence},
                    item_id=None,
                    deadline_id=None,
                    partner_id=first.partner_id,
                    audience=first.audience,
                    held=False,
                    now=now,
                    domain=domain,
                )
            ],
        )
        digest = await repository.by_key(session, event_id, contact_id, EMAIL, for_update=lock)
        if digest.status == DeliveryStatus.PENDING.value and digest.attempts == 0:
            return digest
    return None


async def gather_digests(
    session: AsyncSession, clock: Clock, weekday: int, at: str, domain: str, limit: int = 5000
) -> int:
    """Attach the reminders held before the latest slot to one pending digest per contact (a follow-up one
    when the slot's digest has already gone); returns how many contacts had some."""
    now = clock.now()
    slot = latest_slot(now, weekday, at)
    held: dict[uuid.UUID, list[Delivery]] = defaultdict(list)
    skip_locked = session.bind.dialect.name == "postgresql"
    for row in await repository.held_for_digest(session, slot, limit, skip_locked):
        held[row.contact_id].append(row)
    gathered = 0
    for contact_id, rows in held.items():
        digest = await open_digest(session, contact_id, slot, rows[0], now, domain)
        if digest is None:  # left held: the next slot takes them
            continue
        for row in rows:
            row.status, row.digest_id, row.updated_at = DeliveryStatus.DIGESTED.value, digest.id, now
        gathered += 1
    await session.flush()
    return gathered
