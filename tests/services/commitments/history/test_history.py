"""The audit trail: every change recorded with its actor, its instant and its values before and after, oldest
first; nothing recorded for a change that changes nothing or is refused; erased values blanked."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.commitments.history import repository
from services.commitments.history.models import AuditEntry
from services.commitments.history.service import diff, item_history, record_change, redact_entity
from shared.auth import SYSTEM, Principal, Role
from tests.responses import ok


async def _key_id(client) -> str:
    return ok(await client.get("/v1/auth/whoami"))["key_id"]


async def _draft(admin, make_objective, lead, title="Centre commercial"):
    return ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "request",
                "title": title,
                "plan_text": "La Ville demande au bailleur de rénover le centre commercial.",
                "lead_partner_id": str(lead),
            },
        )
    )


class _Colour(enum.Enum):
    RED = "rouge"


def test_diff_keeps_the_changed_fields_as_plain_before_and_after():
    identifier = uuid.uuid4()
    before = {"title": "A", "budget": Decimal("10.00"), "due_on": date(2026, 3, 2), "owner": None, "same": 1}
    after = {
        "title": "B",
        "budget": Decimal("12.50"),
        "due_on": date(2026, 3, 9),
        "owner": identifier,
        "same": 1,
        "colour": _Colour.RED,
        "tags": ("a", "b"),
    }
    assert diff(before, after) == {
        "title": ["A", "B"],
        "budget": ["10.00", "12.50"],
        "due_on": ["2026-03-02", "2026-03-09"],
        "owner": [None, str(identifier)],
        "colour": [None, "rouge"],
        "tags": [None, ["a", "b"]],
    }
    assert diff(after, after) == {}


async def test_every_change_to_an_item_is_recorded_with_its_actor_and_values(
    admin, make_objective, make_partner, make_key, client_for, clock
):
    lead = await make_partner("Bailleur")
    city = client_for(await make_key(Role.CITY))
    partner = client_for(await make_key(Role.PARTNER, partner_id=lead))
    admin_key, city_key, partner_key = await _key_id(admin), await _key_id(city), await _key_id(partner)
    created_at = clock.now()
    item = await _draft(admin, make_objective, lead)
    clock.advance(timedelta(hours=1))
    ok(
        await city.patch(
            f"/v1/items/{item['id']}", json={"title": "Centre commercial des Blagis", "budget": "200000.00"}
        )
    )
    clock.advance(timedelta(hours=1))
    deadline = ok(
        await city.post(
            f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-04-01"}
        )
    )
    ok(
        await city.patch(
            f"/v1/deadlines/{deadline['id']}", json={"due_on": "2026-04-15", "reason": "Conseil"}
        )
    )
    ok(await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "L1"}))
    clock.advance(timedelta(hours=1))
    entry = ok(await partner.post(f"/v1/items/{item['id']}/journal", json={"kind": "note", "text": "Reçu."}))

    history = ok(await admin.get(f"/v1/items/{item['id']}/history"))
    assert [(h["entity_type"], h["action"], h["actor_kind"], h["actor_id"]) for h in history] == [
        ("item", "created", "api_key", admin_key),
        ("item", "updated", "api_key", city_key),
        ("deadline", "created", "api_key", city_key),
        ("deadline", "updated", "api_key", city_key),
        ("item", "transition", "api_key", admin_key),
        ("journal_entry", "created", "api_key", partner_key),
    ]
    assert [datetime.fromisoformat(h["at"]) for h in history] == [
        created_at,
        created_at + timedelta(hours=1),
        *[created_at + timedelta(hours=2)] * 3,
        created_at + timedelta(hours=3),
    ]
    assert history[0]["changes"]["title"] == "Centre commercial"
    assert history[1]["changes"] == {
        "title": ["Centre commercial", "Centre commercial des Blagis"],
        "budget": [None, "200000.00"],
    }
    assert history[2]["entity_id"] == history[3]["entity_id"] == deadline["id"]
    assert history[3]["changes"] == {"due_on": ["2026-04-01", "2026-04-15"], "reason": [None, "Conseil"]}
    assert history[4]["changes"]["status"] == ["draft", "sent"]
    assert history[4]["changes"]["letter_reference"] == "L1"
    assert history[5]["entity_id"] == entry["id"] and history[5]["changes"]["text"] == "Reçu."


async def test_a_change_that_changes_nothing_or_is_refused_records_nothing(
    admin, make_objective, make_partner
):
    item = await _draft(admin, make_objective, await make_partner("Bailleur"))
    deadline = ok(
        await admin.post(
            f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-04-01"}
        )
    )
    before = ok(await admin.get(f"/v1/items/{item['id']}/history"))
    ok(await admin.patch(f"/v1/items/{item['id']}", json={"title": item["title"]}))
    ok(await admin.patch(f"/v1/deadlines/{deadline['id']}", json={"due_on": "2026-04-01"}))
    refused = await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "accepted"})
    assert refused.status_code == 409
    without_reason = await admin.patch(f"/v1/deadlines/{deadline['id']}", json={"due_on": "2026-04-15"})
    assert without_reason.status_code == 422 and "motif" in without_reason.json()["detail"]
    unsent = await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "sent"})
    assert unsent.status_code == 422
    assert ok(await admin.get(f"/v1/items/{item['id']}/history")) == before


async def test_a_partner_reads_the_history_of_its_own_items_only(
    admin, make_objective, make_partner, make_key, client_for
):
    lead, other = await make_partner("Bailleur"), await make_partner("Centre social")
    item = await _draft(admin, make_objective, lead)
    own = client_for(await make_key(Role.PARTNER, partner_id=lead))
    stranger = client_for(await make_key(Role.PARTNER, partner_id=other))
    assert ok(await own.get(f"/v1/items/{item['id']}/history")) == ok(
        await admin.get(f"/v1/items/{item['id']}/history")
    )
    hidden = await stranger.get(f"/v1/items/{item['id']}/history")
    assert hidden.status_code == 404 and hidden.headers["content-type"] == "application/problem+json"
    assert (await admin.get(f"/v1/items/{uuid.uuid4()}/history")).status_code == 404


async def test_item_history_gathers_the_item_and_its_parts_oldest_first(app, clock):
    item_id, deadline_id, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    actor = Principal(role=Role.CITY, key_id=uuid.uuid4())
    async with app.state.sessionmaker() as session, session.begin():
        record_change(
            session,
            actor,
            clock,
            entity_type="item",
            entity_id=item_id,
            item_id=item_id,
            action="created",
            changes={"title": "Bus"},
        )
        clock.advance(timedelta(minutes=5))
        record_change(
            session,
            SYSTEM,
            clock,
            entity_type="deadline",
            entity_id=deadline_id,
            item_id=item_id,
            action="updated",
            changes={"due_on": [date(2026, 4, 1), date(2026, 4, 2)]},
        )
        record_change(
            session,
            actor,
            clock,
            entity_type="item",
            entity_id=elsewhere,
            item_id=elsewhere,
            action="created",
            changes={"title": "Autre"},
        )
        # An entry about the item that does not carry item_id (an older row) is still the item's.
        session.add(
            AuditEntry(
                entity_type="item",
                entity_id=item_id,
                item_id=None,
                action="updated",
                actor_kind="system",
                actor_id=None,
                at=clock.now(),
                changes={"budget": [None, "1"]},
            )
        )
    async with app.state.sessionmaker() as session:
        entries = await item_history(session, item_id)
    assert [(e.entity_type, e.action, e.actor_kind, e.actor_id) for e in entries] == [
        ("item", "created", "api_key", str(actor.key_id)),
        ("deadline", "updated", "system", None),
        ("item", "updated", "system", None),
    ]
    assert entries[1].changes == {"due_on": ["2026-04-01", "2026-04-02"]}
    assert [e.at for e in entries] == [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)] + [
        datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    ] * 2


async def test_erasure_blanks_the_recorded_values_of_that_object_only(app, admin, make_partner, clock):
    partner = await make_partner("Bailleur")
    contact = ok(
        await admin.post(
            f"/v1/partners/{partner}/contacts",
            json={"first_name": "Claire", "last_name": "Martin", "email": "c@example.org"},
        )
    )
    other = ok(
        await admin.post(
            f"/v1/partners/{partner}/contacts",
            json={"first_name": "Paul", "last_name": "Petit", "email": "p@example.org"},
        )
    )
    ok(await admin.patch(f"/v1/contacts/{contact['id']}", json={"last_name": "Martin-Roux"}))
    ok(await admin.post(f"/v1/contacts/{contact['id']}/erasure"))
    async with app.state.sessionmaker() as session:
        erased = await repository.list_for_entity(session, "contact", uuid.UUID(contact["id"]))
        kept = await repository.list_for_entity(session, "contact", uuid.UUID(other["id"]))
    assert [e.action for e in erased] == ["created", "updated", "erased"]
    assert "Martin" not in str([e.changes for e in erased])
    assert erased[1].changes == {"last_name": ["[effacé]", "[effacé]"]}
    assert erased[2].changes == {}
    assert [e.action for e in kept] == ["created"] and "Petit" in str(kept[0].changes)


async def test_redact_entity_leaves_the_fact_of_each_change(app, clock):
    entity = uuid.uuid4()
    async with app.state.sessionmaker() as session, session.begin():
        record_change(
            session,
            SYSTEM,
            clock,
            entity_type="partner",
            entity_id=entity,
            action="updated",
            changes={"name": ["Ancien", "Nouveau"], "kind": ["a", "b"]},
        )
        await session.flush()
        await redact_entity(session, "partner", entity)
    async with app.state.sessionmaker() as session:
        [entry] = await repository.list_for_entity(session, "partner", entity)
    assert (entry.action, entry.changes) == (
        "updated",
        {"name": ["[effacé]", "[effacé]"], "kind": ["[effacé]", "[effacé]"]},
    )
