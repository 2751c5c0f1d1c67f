"""Contacts are personal data: they can be exported, and erased everywhere on request."""

from __future__ import annotations

import json

from sqlalchemy import select

from services.commitments.history.models import AuditEntry
from services.commitments.outbox.models import OutboxMessage


async def test_export_then_erase_leaves_no_trace(app, admin, make_partner):
    partner_id = await make_partner("Hauts-de-Seine Habitat")
    created = await admin.post(
        f"/v1/partners/{partner_id}/contacts",
        json={
            "civility": "Madame",
            "first_name": "Claire",
            "last_name": "Zorglub",
            "title": "Directrice territoriale",
            "email": "claire.zorglub@example.org",
            "role": "liaison",
        },
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    await admin.patch(f"/v1/contacts/{contact['id']}", json={"title": "Directrice générale adjointe"})

    export = (await admin.get(f"/v1/contacts/{contact['id']}/export")).json()
    assert export["contact"]["email"] == "claire.zorglub@example.org"
    assert [h["action"] for h in export["history"]] == ["created", "updated"]

    erased = await admin.post(f"/v1/contacts/{contact['id']}/erasure")
    assert erased.status_code == 200
    body = erased.json()
    assert body["last_name"] == "Contact effacé" and body["email"] is None and body["erased_at"]
    async with app.state.sessionmaker() as session:
        audit = json.dumps([e.changes for e in (await session.scalars(select(AuditEntry))).all()])
        events = " ".join((await session.scalars(select(OutboxMessage.payload))).all())
    for trace in ("Zorglub", "claire.zorglub@example.org", "Directrice"):
        assert trace not in audit and trace not in events
    listed = (await admin.get(f"/v1/partners/{partner_id}/contacts")).json()
    assert "Zorglub" not in json.dumps(listed)


async def test_contact_dates_checked_and_erased_contact_frozen(admin, make_partner):
    partner_id = await make_partner("VSGP")
    backwards = await admin.post(
        f"/v1/partners/{partner_id}/contacts",
        json={"last_name": "Durand", "active_from": "2026-05-01", "active_to": "2026-01-01"},
    )
    assert backwards.status_code == 422
    contact = (await admin.post(f"/v1/partners/{partner_id}/contacts", json={"last_name": "Durand"})).json()
    await admin.post(f"/v1/contacts/{contact['id']}/erasure")
    assert (await admin.patch(f"/v1/contacts/{contact['id']}", json={"last_name": "X"})).status_code == 409
