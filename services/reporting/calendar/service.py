"""Calendar feeds: created and revoked by city staff, each behind a random secret of which only the SHA-256 is
kept; read by calendar clients with the secret alone in the URL (they send no header). An unknown or revoked
secret finds nothing (404). A partner's feed shows what a key of that partner would see, nothing else; a city
owner's feed, the deadlines of the items that agent is in charge of."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.calendar import repository
from services.reporting.calendar.ics import ReminderDays, build_feed
from services.reporting.calendar.models import CalendarFeed
from services.reporting.calendar.schemas import CalendarFeedCreate
from services.reporting.reports import repository as reports_repository
from services.reporting.reports import service as reports
from shared.auth import Principal
from shared.calendar import default_calendar
from shared.clock import Clock, paris_today
from shared.problems import InvalidInput, NotFound

FEED_NOT_FOUND = "Calendrier introuvable."
TOKEN_PREFIX = "cal_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_feed(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    data: CalendarFeedCreate,
    owner_exists: Callable[[uuid.UUID], Awaitable[None]],
) -> tuple[CalendarFeed, str]:
    """A new feed of a partner's or of a city owner's deadlines, and its secret (returned this once).
    `owner_exists` raises NotFound for a contact the caller may not see (the commitments service knows)."""
    if (data.partner_id is None) == (data.owner_contact_id is None):
        raise InvalidInput(
            "Indiquez soit un partenaire (partner_id), soit un agent responsable "
            "(owner_contact_id), pas les deux.",
            field="partner_id",
        )
    if data.partner_id is not None and await repository.partner(session, data.partner_id) is None:
        raise NotFound(reports.PARTNER_NOT_FOUND)
    if data.owner_contact_id is not None:
        await owner_exists(data.owner_contact_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed(
        id=uuid.uuid4(),
        token_sha256=token_hash(token),
        partner_id=data.partner_id,
        owner_contact_id=data.owner_contact_id,
        label=data.label,
        created_at=clock.now(),
        created_by_key_id=principal.key_id,
        revoked_at=None,
    )
    session.add(feed)
    await session.flush()
    return feed, token


async def list_feeds(session: AsyncSession, partner_id: uuid.UUID | None = None) -> Sequence[CalendarFeed]:
    """Every feed, revoked ones included, oldest first (never their secret)."""
    return await repository.all_feeds(session, partner_id)


async def revoke_feed(session: AsyncSession, clock: Clock, feed_id: uuid.UUID) -> None:
    """Revoke a feed: its URL answers 404 from now on (revoking twice keeps the first date)."""
    feed = await repository.by_id(session, feed_id)
    if feed is None:
        raise NotFound(FEED_NOT_FOUND)
    if feed.revoked_at is None:
        feed.revoked_at = clock.now()
        await session.flush()


async def feed_ics(
    session: AsyncSession, clock: Clock, token: str, item_url: str, rules: ReminderDays
) -> bytes:
    """The iCalendar feed behind a secret: the deadlines of the items its partner sees (404 when unknown or
    revoked)."""
    feed = await repository.by_token_hash(session, token_hash(token))
    if feed is None or feed.revoked_at is not None:
        raise NotFound(FEED_NOT_FOUND)
    today = paris_today(clock)
    if feed.partner_id is not None:
        partner = await repository.partner(session, feed.partner_id)
        visible = await reports_repository.organisation_of(session, feed.partner_id)
        if partner is None or not visible:
            raise NotFound(FEED_NOT_FOUND)
        name = f"Échéances – {partner.name}"
        deadlines = await reports.deadline_list(session, visible, today, open_only=False)
    else:
        name = "Échéances des éléments dont vous êtes responsable"
        deadlines = await reports.deadline_list(
            session, None, today, open_only=False, owner_contact_id=feed.owner_contact_id
        )
    names = await reports_repository.partner_names(
        session, {d.lead_partner_id for d in deadlines if d.lead_partner_id is not None}
    )
    return build_feed(feed.id, name, deadlines, names, item_url, clock.now(), rules, default_calendar())
