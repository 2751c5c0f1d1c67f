"""The world the notifications tests write to, seeded in the commitments service through its API (two partners,
their contacts, a request to each with a deadline), and the reminder events the scanner would emit about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from nats.js import JetStreamContext

from shared.bus import StreamSpec, publish_event
from shared.events import Actor, EventEnvelope
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue
from tests.responses import ok
from tests.services.commitments.factories import create_plan_axis_objective
from tests.services.notifications.served_commitments import Commitments


@dataclass
class World:
    """Hauts-de-Seine Habitat asked (liaison, deputy), Vallée Sud Grand Paris asked on another item; the city
    owner of both items; one deadline each."""

    ids: dict[str, str]
    emails: dict[str, str]


async def seed_world(commitments: Commitments) -> World:
    admin = commitments.client(commitments.admin_secret)
    ids: dict[str, str] = {}
    emails = {
        "liaison": "claire.martin@hsh.example",
        "deputy": "paul.petit@hsh.example",
        "owner": "agent@sceaux.example",
        "vsgp_liaison": "roux@vsgp.example",
    }
    async with admin:
        for key, name, kind in (
            ("hsh", "Hauts-de-Seine Habitat", "bailleur_social"),
            ("vsgp", "Vallée Sud Grand Paris", "etablissement_public_territorial"),
            ("city", "Ville de Sceaux", "collectivite"),
        ):
            ids[key] = ok(await admin.post("/v1/partners", json={"name": name, "kind": kind}))["id"]
        for key, partner, fields in (
            (
                "liaison",
                "hsh",
                {
                    "civility": "Madame",
                    "first_name": "Claire",
                    "last_name": "Martin",
                    "title": "Directrice territoriale",
                },
            ),
            ("deputy", "hsh", {"last_name": "Petit", "role": "deputy"}),
            ("owner", "city", {"last_name": "Agent", "role": "staff"}),
            ("vsgp_liaison", "vsgp", {"last_name": "Roux"}),
        ):
            ids[key] = ok(
                await admin.post(
                    f"/v1/partners/{ids[partner]}/contacts", json={"email": emails[key], **fields}
                )
            )["id"]
        async with commitments.app.state.sessionmaker() as session, session.begin():
            _, _, objective = await create_plan_axis_objective(session, commitments.clock)
        for key, partner, title in (
            ("item", "hsh", "Rénovation du centre commercial"),
            ("vsgp_item", "vsgp", "Réorganisation du réseau de bus"),
        ):
            item = ok(
                await admin.post(
                    "/v1/items",
                    json={
                        "objective_id": str(objective.id),
                        "kind": "request",
                        "title": title,
                        "plan_text": f"La Ville demande au partenaire : {title.lower()}.",
                        "lead_partner_id": ids[partner],
                        "owner_contact_id": ids["owner"],
                    },
                )
            )
            ids[key] = item["id"]
            ids["plan"] = item["plan_id"]
            ids[f"{key}_deadline"] = ok(
                await admin.post(
                    f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-03-16"}
                )
            )["id"]
    return World(ids, emails)


async def send_items(commitments: Commitments, world: World, *items: str) -> None:
    """Send the world's requests (a draft takes no reminder: the sender cancels those about one)."""
    async with commitments.client(commitments.admin_secret) as admin:
        for item in items or ("item", "vsgp_item"):
            ok(
                await admin.post(
                    f"/v1/items/{world.ids[item]}/transitions",
                    json={"to": "sent", "letter_reference": "SCX/DGS/2026-041"},
                )
            )


REMINDERS = {
    "approaching": DeadlineApproaching,
    "due": DeadlineDue,
    "overdue": DeadlineOverdue,
    "escalated": DeadlineEscalated,
}


def reminder_event(
    world: World,
    kind: str = "due",
    item: str = "item",
    step: str | None = None,
    audience: tuple[str, ...] = ("liaison", "deputy"),
) -> EventEnvelope:
    """A deadline reminder event as the scanner would emit it."""
    offset = {"approaching": -3, "due": 0, "overdue": 1, "escalated": 10}[kind]
    data = REMINDERS[kind](
        reminder_key=f"{world.ids[item + '_deadline']}:1:1:{step or kind}",
        deadline_id=world.ids[item + "_deadline"],
        item_id=world.ids[item],
        plan_id=world.ids["plan"],
        kind="response",
        due_on=date(2026, 3, 16),
        deadline_version=1,
        step=step or kind,
        offset_working_days=offset,
        escalation="late" if kind == "escalated" else "none",
        audience=list(audience),
        partner_ids=[world.ids["hsh" if item == "item" else "vsgp"]],
        fire_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
    )
    return EventEnvelope.wrap(data, datetime(2026, 3, 2, 8, 30, tzinfo=UTC), Actor(kind="system"))


async def publish(
    js: JetStreamContext, stream: StreamSpec, envelope: EventEnvelope, msg_id: str | None = None
) -> None:
    """Publish an event into the stream; another `msg_id` gets past JetStream's dedup (a duplicated event)."""
    await publish_event(
        js, stream, msg_id or str(envelope.id), envelope.type, envelope.model_dump_json().encode(), {}
    )
