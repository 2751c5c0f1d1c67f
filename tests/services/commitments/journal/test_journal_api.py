"""Journal entries: the author is whoever calls (a key, or the contact a service key acts for), never a name
from the body; partners see other organisations' authors by role only."""

from __future__ import annotations

import uuid

from services.commitments.journal.models import JournalEntry
from shared.auth import Role
from tests.responses import ok
from tests.services.commitments.journal.sent_requests import sent_request


async def test_the_author_is_the_calling_key(admin, make_objective, make_partner):
    item = await sent_request(admin, make_objective, await make_partner("Bailleur"))
    entry = ok(
        await admin.post(f"/v1/items/{item}/journal", json={"kind": "note", "text": "Visite du site."})
    )
    assert entry["author"]["kind"] == "api_key" and entry["author"]["role"] == "admin"
    assert entry["author"]["name"] == entry["author_name"] == "test admin"
    assert ok(await admin.get(f"/v1/items/{item}/journal")) == [entry]


async def test_a_name_in_the_body_is_refused_and_writes_nothing(admin, make_objective, make_partner):
    item = await sent_request(admin, make_objective, await make_partner("Bailleur"))
    history = ok(await admin.get(f"/v1/items/{item}/history"))
    response = await admin.post(
        f"/v1/items/{item}/journal",
        json={"kind": "note", "text": "Signé par le maire.", "author_name": "Le maire"},
    )
    assert response.status_code == 422 and "author_name" in response.json()["detail"]
    assert ok(await admin.get(f"/v1/items/{item}/journal")) == []
    assert ok(await admin.get(f"/v1/items/{item}/history")) == history


async def test_a_stored_name_is_never_shown_the_caller_is(app, admin, make_objective, make_partner, clock):
    """Entries written before authors came from the caller may carry a free-text name: the key's is shown."""
    item = await sent_request(admin, make_objective, await make_partner("Bailleur"))
    key_id = ok(await admin.get("/v1/auth/whoami"))["key_id"]
    async with app.state.sessionmaker() as session, session.begin():
        session.add(
            JournalEntry(
                item_id=uuid.UUID(item),
                kind="note",
                text="Ancienne note",
                occurred_on=clock.now().date(),
                author_name="Le préfet",
                actor_kind="api_key",
                actor_id=key_id,
                created_at=clock.now(),
            )
        )
    [entry] = ok(await admin.get(f"/v1/items/{item}/journal"))
    assert (entry["author_name"], entry["author"]["name"], entry["author"]["id"]) == (
        "test admin",
        "test admin",
        key_id,
    )


async def test_the_acting_contact_is_the_author_until_erased(
    admin, make_objective, make_partner, make_key, client_for
):
    lead = await make_partner("Bailleur")
    item = await sent_request(admin, make_objective, lead)
    contact = ok(
        await admin.post(
            f"/v1/partners/{lead}/contacts",
            json={"first_name": "Claire", "last_name": "Martin", "email": "c@example.org"},
        )
    )
    acting = client_for(await make_key(Role.SERVICE))
    acting.headers["X-Acting-Contact"] = contact["id"]
    entry = ok(
        await acting.post(f"/v1/items/{item}/journal", json={"kind": "progress", "text": "Devis reçus."})
    )
    assert entry["author"] == {
        "kind": "contact",
        "id": contact["id"],
        "role": "partner",
        "name": "Claire Martin",
        "partner_id": str(lead),
    }
    assert entry["actor_kind"] == "contact"
    ok(await admin.post(f"/v1/contacts/{contact['id']}/erasure"))
    [erased] = ok(await admin.get(f"/v1/items/{item}/journal"))
    assert (
        "Martin" not in str(erased) and erased["author"]["name"] == erased["author_name"] == "Contact effacé"
    )


async def test_a_partner_sees_other_organisations_authors_by_role_only(
    admin, make_objective, make_partner, make_key, client_for
):
    lead, associated = await make_partner("Bailleur"), await make_partner("Centre social")
    item = await sent_request(admin, make_objective, lead, [associated])
    lead_key = client_for(await make_key(Role.PARTNER, partner_id=lead))
    associated_key = client_for(await make_key(Role.PARTNER, partner_id=associated))
    ok(await admin.post(f"/v1/items/{item}/journal", json={"kind": "note", "text": "Relance faite."}))
    ok(await lead_key.post(f"/v1/items/{item}/journal", json={"kind": "response", "text": "Accord."}))
    ok(await associated_key.post(f"/v1/items/{item}/journal", json={"kind": "note", "text": "Nous suivons."}))

    def authors(journal):
        return [(e["text"], e["author"]["kind"], e["author"]["role"], e["author"]["name"]) for e in journal]

    assert authors(ok(await associated_key.get(f"/v1/items/{item}/journal"))) == [
        ("Relance faite.", "api_key", "admin", None),
        ("Accord.", "api_key", "partner", None),
        ("Nous suivons.", "api_key", "partner", "test partner"),
    ]
    assert authors(ok(await lead_key.get(f"/v1/items/{item}/journal"))) == [
        ("Relance faite.", "api_key", "admin", None),
        ("Accord.", "api_key", "partner", "test partner"),
        ("Nous suivons.", "api_key", "partner", None),
    ]
    assert [e["author"]["name"] for e in ok(await admin.get(f"/v1/items/{item}/journal"))] == [
        "test admin"
    ] + ["test partner"] * 2
