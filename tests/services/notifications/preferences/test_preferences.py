"""Contact preferences: read with their default, updated at the clock's time, answered in French when the body is
wrong, open to the contact's own organisation only; and what is recorded for sending follows them (only an
"approaching" reminder waits for the weekly digest, and only for a contact who chose it)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries.service import reminder_rows
from services.notifications.preferences import repository, service
from services.notifications.preferences.models import ApproachingMode
from services.notifications.preferences.schemas import PreferencesUpdate
from services.notifications.recipients import Recipient, ReminderContext, ReminderDeadline, ReminderItem
from shared.auth import Role
from shared.clock import FixedClock
from shared.db import create_engine
from tests.responses import ok
from tests.services.notifications.in_process_api import client, notifications_api
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.world import World, reminder_event

TUESDAY = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def _sessions(settings: NotificationsSettings) -> AsyncIterator[async_sessionmaker]:  # type: ignore[type-arg]
    engine = create_engine(settings.notifications_database_url)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def test_a_contact_without_a_choice_gets_immediate_reminders_until_it_chooses(
    notifications_settings: NotificationsSettings,
) -> None:
    contact, other = uuid.uuid4(), uuid.uuid4()
    clock = FixedClock(TUESDAY)
    async with _sessions(notifications_settings) as sessions:
        async with sessions() as session, session.begin():
            assert (await service.read(session, contact)).model_dump() == {
                "contact_id": contact,
                "approaching": ApproachingMode.IMMEDIATE,
                "updated_at": None,
            }
            assert await repository.approaching_modes(session, [contact, other]) == {}
            chosen = await service.update(
                session, clock, contact, PreferencesUpdate(approaching="weekly_digest")
            )
            assert (chosen.approaching, chosen.updated_at) == (ApproachingMode.WEEKLY_DIGEST, TUESDAY)
        clock.advance(timedelta(days=1))
        async with sessions() as session, session.begin():
            await service.update(session, clock, contact, PreferencesUpdate(approaching="immediate"))
        async with sessions() as session:
            again = await service.read(session, contact)
            assert (again.approaching, again.updated_at) == (
                ApproachingMode.IMMEDIATE,
                TUESDAY + timedelta(days=1),
            )
            assert await repository.approaching_modes(session, [contact, other]) == {contact: "immediate"}
            assert await repository.approaching_modes(session, []) == {}


def _context(world: World, contacts: dict[str, uuid.UUID]) -> ReminderContext:
    item = ReminderItem(
        id=uuid.UUID(world.ids["item"]),
        title="Centre commercial",
        kind="request",
        status="sent",
        plan_id=uuid.UUID(world.ids["plan"]),
        plan_title="Plan",
    )
    deadline = ReminderDeadline(
        id=uuid.UUID(world.ids["item_deadline"]), kind="response", due_on=date(2026, 3, 16), version=1
    )
    return ReminderContext(
        item=item,
        deadline=deadline,
        recipients=[
            Recipient(contact_id=contact_id, audience=audience, email=f"{audience}@hsh.example")
            for audience, contact_id in contacts.items()
        ],
    )


async def test_only_approaching_reminders_wait_for_the_digest_of_those_who_chose_it(
    notifications_settings: NotificationsSettings,
) -> None:
    """reminder_rows is what the consumer records for sending: a held row waits for the weekly digest, a pending
    one goes at once."""
    contacts = {"liaison": uuid.uuid4(), "deputy": uuid.uuid4(), "hierarchy": uuid.uuid4()}
    world = World(
        {
            "item": str(uuid.uuid4()),
            "item_deadline": str(uuid.uuid4()),
            "plan": str(uuid.uuid4()),
            "hsh": str(uuid.uuid4()),
        },
        {},
    )
    context, clock = _context(world, contacts), FixedClock(TUESDAY)
    everyone = tuple(contacts)

    async def statuses(kind: str, next_digest_on: date | None = None) -> dict[str, str]:
        envelope = reminder_event(world, kind, audience=everyone)
        async with sessions() as session:
            rows = await reminder_rows(
                session, clock, "sceaux.example", envelope, envelope.parsed(), context, next_digest_on
            )
        by_contact = {row["contact_id"]: row["status"] for row in rows}
        return {audience: by_contact[contact_id] for audience, contact_id in contacts.items()}

    async with _sessions(notifications_settings) as sessions:
        async with sessions() as session, session.begin():
            await service.update(
                session, clock, contacts["liaison"], PreferencesUpdate(approaching="weekly_digest")
            )
            await service.update(
                session, clock, contacts["deputy"], PreferencesUpdate(approaching="immediate")
            )
        assert await statuses("approaching") == {
            "liaison": "held",
            "deputy": "pending",
            "hierarchy": "pending",
        }
        assert await statuses("approaching", date(2026, 3, 9)) == {
            "liaison": "held",
            "deputy": "pending",
            "hierarchy": "pending",
        }
        # The digest would come on the deadline's day or after it: too late to wait for.
        assert set((await statuses("approaching", date(2026, 3, 16))).values()) == {"pending"}
        for kind in ("due", "overdue", "escalated"):
            assert set((await statuses(kind)).values()) == {"pending"}, kind
        async with sessions() as session, session.begin():
            await service.update(
                session, clock, contacts["liaison"], PreferencesUpdate(approaching="immediate")
            )
        assert set((await statuses("approaching")).values()) == {"pending"}


async def test_the_preferences_routes(
    notifications_settings: NotificationsSettings, commitments: Commitments, world: World
) -> None:
    clock = FixedClock(TUESDAY)
    _, hsh_secret = await commitments.make_key(Role.PARTNER, world.ids["hsh"])
    _, city_secret = await commitments.make_key(Role.CITY)
    _, reader_secret = await commitments.make_key(Role.READER)
    path = f"/v1/contacts/{world.ids['deputy']}/preferences"
    async with notifications_api(notifications_settings, clock) as app:
        hsh, city, reader = (client(app, s) for s in (hsh_secret, city_secret, reader_secret))
        assert ok(await city.get(path)) == {
            "contact_id": world.ids["deputy"],
            "approaching": "immediate",
            "updated_at": None,
        }
        chosen = ok(await hsh.put(path, json={"approaching": "weekly_digest"}))
        assert (chosen["approaching"], datetime.fromisoformat(chosen["updated_at"])) == (
            "weekly_digest",
            TUESDAY,
        )
        assert ok(await city.get(path)) == chosen
        assert (await reader.get(path)).status_code == 403
        assert (await reader.put(path, json={"approaching": "immediate"})).status_code == 403
        unknown = await city.get(f"/v1/contacts/{uuid.uuid4()}/preferences")
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
        # Another organisation's contact is unknown to a partner key.
        assert (await hsh.get(f"/v1/contacts/{world.ids['vsgp_liaison']}/preferences")).status_code == 404
        assert (
            await hsh.put(
                f"/v1/contacts/{world.ids['vsgp_liaison']}/preferences", json={"approaching": "weekly_digest"}
            )
        ).status_code == 404
        assert (
            ok(await city.get(f"/v1/contacts/{world.ids['vsgp_liaison']}/preferences"))["updated_at"] is None
        )
        assert ok(await city.get(path)) == chosen


async def test_a_wrong_body_is_refused_in_french(
    notifications_settings: NotificationsSettings, commitments: Commitments, world: World
) -> None:
    async with notifications_api(notifications_settings, FixedClock(TUESDAY)) as app:
        admin = client(app, commitments.admin_secret)
        path = f"/v1/contacts/{world.ids['liaison']}/preferences"
        for body, field in (
            ({"approaching": "monthly"}, "approaching"),
            ({}, "approaching"),
            ({"approaching": "immediate", "channel": "sms"}, "channel"),
        ):
            refused = await admin.put(path, json=body)
            assert refused.status_code == 422, body
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["code"] == "validation-error" and problem["title"] == "Données invalides"
            assert problem["detail"].startswith(f"body.{field} : ") or problem["detail"].startswith(
                f"{field} : "
            ), problem["detail"]
            assert not any(
                english in problem["detail"] for english in ("Input should", "Field required", "Extra inputs")
            )
        not_json = await admin.put(path, content=b"{", headers={"content-type": "application/json"})
        assert not_json.status_code == 400 and "JSON valide" in not_json.json()["detail"]
        assert ok(await admin.get(path))["updated_at"] is None
