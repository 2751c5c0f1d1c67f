"""The rules of the journal (the authors are in test_journal_api.py): who may write which kind, the dates an
entry may carry, the order entries are read in, and what an entry brings with it (the item's progress, an audit
entry, an event for the other services, the comment of a transition)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.commitments.outbox.models import OutboxMessage
from shared.auth import Role
from tests.responses import ok
from tests.services.commitments.journal.sent_requests import sent_request

SENT_ON = "2026-02-23"  # a week before the clock fixture's today


async def test_a_progress_with_its_percentage_sets_the_items_and_is_audited_and_published(
    app, admin, make_objective, make_partner, make_key, client_for
):
    lead = await make_partner("Bailleur")
    item = await sent_request(admin, make_objective, lead, sent_on=SENT_ON)
    partner = client_for(await make_key(Role.PARTNER, partner_id=lead))
    entry = ok(
        await partner.post(
            f"/v1/items/{item}/journal",
            json={
                "kind": "progress",
                "text": "Ravalement terminé.",
                "progress_percent": 40,
                "evidence_url": "https://example.org/cr.pdf",
            },
        )
    )
    assert (entry["occurred_on"], entry["progress_percent"]) == ("2026-03-02", 40)  # today, in Paris
    assert ok(await admin.get(f"/v1/items/{item}"))["progress_percent"] == 40
    ok(
        await partner.post(
            f"/v1/items/{item}/journal", json={"kind": "progress", "text": "Peinture en cours."}
        )
    )
    assert ok(await admin.get(f"/v1/items/{item}"))["progress_percent"] == 40  # no percentage: unchanged
    [audit] = [h for h in ok(await admin.get(f"/v1/items/{item}/history")) if h["entity_id"] == entry["id"]]
    assert audit["changes"] == {
        "kind": "progress",
        "text": "Ravalement terminé.",
        "occurred_on": "2026-03-02",
        "progress_percent": 40,
        "evidence_url": "https://example.org/cr.pdf",
    }
    async with app.state.sessionmaker() as session:
        payloads = [
            json.loads(m.payload)
            for m in await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.event_type == "journal.entry_added")
                .order_by(OutboxMessage.position)
            )
        ]
    assert len(payloads) == 2
    first = payloads[0]["data"]
    assert (first["entry_id"], first["kind"], first["progress_percent"]) == (entry["id"], "progress", 40)


async def test_who_may_write_which_kind(admin, make_objective, make_partner, make_key, client_for):
    lead, associated, stranger = (
        await make_partner("Bailleur"),
        await make_partner("Centre social"),
        await make_partner("Autre"),
    )
    item = await sent_request(admin, make_objective, lead, [associated], sent_on=SENT_ON)
    follower = client_for(await make_key(Role.PARTNER, partner_id=associated))
    outsider = client_for(await make_key(Role.PARTNER, partner_id=stranger))
    reader = client_for(await make_key(Role.READER))
    ok(await follower.post(f"/v1/items/{item}/journal", json={"kind": "note", "text": "Nous suivons."}))
    for kind, extra in (("response", {}), ("progress", {}), ("note", {"progress_percent": 10})):
        refused = await follower.post(
            f"/v1/items/{item}/journal", json={"kind": kind, "text": "Non.", **extra}
        )
        assert refused.status_code == 403, (kind, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert (
        await outsider.post(f"/v1/items/{item}/journal", json={"kind": "note", "text": "Non."})
    ).status_code == 404
    assert (await outsider.get(f"/v1/items/{item}/journal")).status_code == 404
    assert (
        await reader.post(f"/v1/items/{item}/journal", json={"kind": "note", "text": "Non."})
    ).status_code == 403
    assert [e["text"] for e in ok(await reader.get(f"/v1/items/{item}/journal"))] == ["Nous suivons."]


async def test_an_entry_is_not_dated_in_the_future_nor_an_answer_before_the_request(
    admin, make_objective, make_partner, clock
):
    item = await sent_request(admin, make_objective, await make_partner("Bailleur"), sent_on=SENT_ON)
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    future = await admin.post(
        f"/v1/items/{item}/journal", json={"kind": "note", "text": "Plus tard.", "occurred_on": tomorrow}
    )
    assert future.status_code == 422 and "dans le futur" in future.json()["detail"]
    early = await admin.post(
        f"/v1/items/{item}/journal", json={"kind": "response", "text": "Avant.", "occurred_on": "2026-02-20"}
    )
    assert early.status_code == 422
    assert early.json()["detail"] == (
        "occurred_on : la date 2026-02-20 précède l'envoi de la demande (2026-02-23)."
    )
    # A note is no answer: it may tell what happened before the request went out.
    ok(
        await admin.post(
            f"/v1/items/{item}/journal",
            json={"kind": "note", "text": "Réunion préalable.", "occurred_on": "2026-02-20"},
        )
    )
    unknown = await admin.post(f"/v1/items/{item}/journal", json={"kind": "rumour", "text": "?"})
    assert unknown.status_code == 422 and unknown.headers["content-type"] == "application/problem+json"
    assert [e["text"] for e in ok(await admin.get(f"/v1/items/{item}/journal"))] == ["Réunion préalable."]


async def test_entries_are_read_in_the_order_of_their_dates(admin, make_objective, make_partner):
    item = await sent_request(admin, make_objective, await make_partner("Bailleur"), sent_on=SENT_ON)
    for text, on in (
        ("Troisième", "2026-03-02"),
        ("Premier", "2026-02-24"),
        ("Deuxième", "2026-02-25"),
        ("Quatrième", "2026-03-02"),
    ):
        ok(
            await admin.post(
                f"/v1/items/{item}/journal", json={"kind": "note", "text": text, "occurred_on": on}
            )
        )
    assert [e["text"] for e in ok(await admin.get(f"/v1/items/{item}/journal"))] == [
        "Premier",
        "Deuxième",
        "Troisième",
        "Quatrième",
    ]
    assert (await admin.get(f"/v1/items/{uuid.uuid4()}/journal")).status_code == 404


async def test_a_transitions_comment_is_journaled_as_its_answer_or_progress(
    admin, make_objective, make_partner, make_key, client_for
):
    lead = await make_partner("Bailleur")
    item = await sent_request(admin, make_objective, lead, sent_on=SENT_ON)
    partner = client_for(await make_key(Role.PARTNER, partner_id=lead))
    ok(
        await partner.post(f"/v1/items/{item}/transitions", json={"to": "acknowledged"})
    )  # no comment: no entry
    ok(
        await partner.post(
            f"/v1/items/{item}/transitions", json={"to": "accepted", "comment": "Validé en CA."}
        )
    )
    ok(
        await partner.post(
            f"/v1/items/{item}/transitions", json={"to": "in_progress", "comment": "Chantier lancé."}
        )
    )
    journal = ok(await admin.get(f"/v1/items/{item}/journal"))
    assert [(e["kind"], e["text"], e["author"]["role"]) for e in journal] == [
        ("response", "Validé en CA.", "partner"),
        ("progress", "Chantier lancé.", "partner"),
    ]
