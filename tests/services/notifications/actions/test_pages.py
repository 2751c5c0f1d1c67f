"""The pages behind action links, against the real commitments service served over HTTP (uvicorn): each action
is recorded as the contact, once; expired, altered and foreign links are refused with a French page."""

from __future__ import annotations

import asyncio
import html
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from services.notifications.actions.links import MissingSecret, action_links, verify
from services.notifications.actions.models import ActionLinkUse
from services.notifications.actions.service import CLAIM_LEASE
from services.notifications.app import create_app
from services.notifications.commitments_client import CommitmentsClient
from services.notifications.config import NotificationsSettings
from services.notifications.outbox.models import OutboxMessage
from shared.clock import FixedClock
from shared.events import EventEnvelope
from tests.ports import free_port
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.world import World

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # the commitments service's day


@pytest.fixture
async def app(notifications_settings: NotificationsSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(notifications_settings, clock)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notifications.test", timeout=30
    ) as client:
        yield client


@pytest.fixture
async def admin(commitments: Commitments) -> AsyncIterator[httpx.AsyncClient]:
    async with commitments.client(commitments.admin_secret) as client:
        yield client


def _read(response: httpx.Response) -> str:
    """The page's text as a person reads it (entities decoded)."""
    return html.unescape(response.text)


def _links(
    settings: NotificationsSettings,
    world: World,
    clock: FixedClock,
    item: str = "item",
    contact: str = "liaison",
) -> dict[str, str]:
    """Each link as a path on the notifications app."""
    links = action_links(
        settings,
        uuid.UUID(world.ids[item]),
        uuid.UUID(world.ids[contact]),
        uuid.UUID(world.ids[f"{item}_deadline"]),
        clock.now(),
    )
    return {key: url.removeprefix(settings.public_base_url) for key, url in links.items()}


async def _status(admin: httpx.AsyncClient, item_id: str) -> str:
    return ok(await admin.get(f"/v1/items/{item_id}"))["status"]  # type: ignore[no-any-return]


async def _move(admin: httpx.AsyncClient, item_id: str, *statuses: str) -> None:
    for status in statuses:
        if await _status(admin, item_id) == status:  # the world's requests are already sent
            continue
        body: dict[str, Any] = {"to": status}
        if status == "sent":
            body["letter_reference"] = "SCX/DGS/2026-041"
        ok(await admin.post(f"/v1/items/{item_id}/transitions", json=body))


async def _uses(app: FastAPI) -> list[ActionLinkUse]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(select(ActionLinkUse))).scalars())


async def _events(app: FastAPI) -> list[EventEnvelope]:
    """The service's own events waiting in its outbox."""
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all()
    return [EventEnvelope.model_validate_json(row.payload) for row in rows]


async def test_acknowledge_is_recorded_as_the_contact_once(
    app: FastAPI,
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["acknowledge"]

    page = await browser.get(link)
    assert page.status_code == 200, page.text
    assert "Accuser réception de la demande" in _read(page) and "Rénovation du centre commercial" in _read(
        page
    )
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert (
        await _status(admin, item) == "sent"
    )  # showing the page (or a mail scanner fetching it) changes nothing

    done = await browser.post(link, headers=FORM, content=b"")
    assert done.status_code == 200, done.text
    assert "Accusé de réception enregistré" in _read(done)
    assert await _status(admin, item) == "acknowledged"
    history = ok(await admin.get(f"/v1/items/{item}/history"))
    transitions = [entry for entry in history if entry["action"] == "transition"]
    assert transitions[-1]["changes"]["status"] == ["sent", "acknowledged"]
    assert (transitions[-1]["actor_kind"], transitions[-1]["actor_id"]) == ("contact", world.ids["liaison"])

    for again in (await browser.post(link, headers=FORM, content=b""), await browser.get(link)):
        assert again.status_code == 409
        assert "Lien déjà utilisé" in _read(again) and "déjà été utilisé" in _read(again)
    assert (
        len([e for e in ok(await admin.get(f"/v1/items/{item}/history")) if e["action"] == "transition"]) == 2
    )
    assert [use.used_at is not None for use in await _uses(app)] == [True]
    # Told once, with ids only, as the contact (no delivery to them in this test: no partner known here).
    [event] = await _events(app)
    assert (event.type, event.actor.kind, event.actor.id) == (
        "action_link.used",
        "contact",
        world.ids["liaison"],
    )
    assert event.data == {
        "item_id": item,
        "deadline_id": world.ids["item_deadline"],
        "partner_id": None,
        "contact_id": world.ids["liaison"],
        "action": "acknowledge",
    }


async def test_two_submissions_at_once_act_once(
    app: FastAPI,
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["acknowledge"]
    answers = await asyncio.gather(*(browser.post(link, headers=FORM, content=b"") for _ in range(3)))
    assert sorted(answer.status_code for answer in answers) == [200, 409, 409]
    history = ok(await admin.get(f"/v1/items/{item}/history"))
    assert [e["changes"]["status"][1] for e in history if e["action"] == "transition"] == [
        "sent",
        "acknowledged",
    ]
    assert [event.type for event in await _events(app)] == ["action_link.used"]  # one use, one event


async def test_a_contact_cannot_act_on_another_partners_item(
    app: FastAPI,
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    """A correctly signed link of Hauts-de-Seine Habitat's liaison, but for Vallée Sud Grand Paris's item."""
    item = world.ids["vsgp_item"]
    await _move(admin, item, "sent")
    links = _links(notifications_settings, world, clock, item="vsgp_item", contact="liaison")
    page = await browser.get(links["acknowledge"])
    assert page.status_code == 404 and "ne concerne pas votre organisation" in _read(page)
    for key, body in (
        ("acknowledge", b""),
        ("done", b"comment=Fait"),
        ("new_date", b"proposed_due_on=2026-06-30&reason=Report"),
        ("not_for_me", b"last_name=Benali&email=k.benali%40hsh.example"),
    ):
        refused = await browser.post(links[key], headers=FORM, content=body)
        assert refused.status_code == 404, (key, refused.text)
        assert "Demande introuvable" in _read(refused)
    assert await _status(admin, item) == "sent"
    assert ok(await admin.get(f"/v1/items/{item}/journal")) == []
    assert ok(await admin.get(f"/v1/items/{item}/deadline-proposals")) == []
    assert (
        await _uses(app) == [] and await _events(app) == []
    )  # nothing happened, nothing used up, nothing told


async def test_done_adds_a_progress_entry_and_declares_delivery_when_allowed(
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent", "accepted")
    link = _links(notifications_settings, world, clock)["done"]
    page = await browser.get(link)
    assert (
        page.status_code == 200 and 'name="comment"' in _read(page) and 'name="evidence_url"' in _read(page)
    )

    invalid = await browser.post(link, headers=FORM, content=b"comment=+&evidence_url=javascript%3Aalert(1)")
    assert invalid.status_code == 422
    assert "Ce champ est obligatoire." in _read(invalid) and "Lien attendu, commençant par https://" in _read(
        invalid
    )
    assert ok(await admin.get(f"/v1/items/{item}/journal")) == []

    comment = "Ravalement terminé.\r\nBcc: pirate@evil.example <b>gras</b>"
    answer = await browser.post(
        link,
        headers=FORM,
        data={
            "comment": comment,  # type: ignore[arg-type]
            "evidence_url": "https://hsh.example/cr.pdf",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "Réalisation déclarée" in _read(answer)
    assert "<b>gras</b>" not in answer.text
    journal = ok(await admin.get(f"/v1/items/{item}/journal"))
    assert [(e["kind"], e["text"], e["evidence_url"], e["actor_kind"]) for e in journal] == [
        ("progress", comment, "https://hsh.example/cr.pdf", "contact")
    ]
    assert await _status(admin, item) == "delivered"


async def test_done_before_an_answer_only_records_progress(
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    answer = await browser.post(
        _links(notifications_settings, world, clock)["done"],
        headers=FORM,
        data={"comment": "Travaux lancés."},
    )  # type: ignore[arg-type]
    assert answer.status_code == 200 and "Compte rendu enregistré" in _read(answer)
    assert "n'a pas été déclarée réalisée" in _read(answer)
    assert await _status(admin, item) == "sent"
    assert len(ok(await admin.get(f"/v1/items/{item}/journal"))) == 1


async def test_new_date_is_proposed_with_its_reason(
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["new_date"]
    for body, message in (
        (b"proposed_due_on=2026-03-01&reason=Trop+t%C3%B4t", "postérieure à aujourd'hui"),
        (b"proposed_due_on=30%2F06%2F2026&reason=x", "AAAA-MM-JJ"),
        (b"proposed_due_on=2026-06-30", "Ce champ est obligatoire."),
    ):
        refused = await browser.post(link, headers=FORM, content=body)
        assert refused.status_code == 422 and message in _read(refused), refused.text
    assert ok(await admin.get(f"/v1/items/{item}/deadline-proposals")) == []

    answer = await browser.post(
        link,
        headers=FORM,
        data={  # type: ignore[arg-type]
            "proposed_due_on": "2026-06-30",
            "reason": "Conseil d'administration reporté en juin.",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "mardi 30 juin 2026" in _read(answer)
    proposals = ok(await admin.get(f"/v1/items/{item}/deadline-proposals"))
    assert [(p["proposed_due_on"], p["reason"], p["status"]) for p in proposals] == [
        ("2026-06-30", "Conseil d'administration reporté en juin.", "pending")
    ]


async def test_not_for_me_designates_a_colleague(
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    commitments: Commitments,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["not_for_me"]
    refused = await browser.post(link, headers=FORM, content=b"last_name=Benali&email=pas-une-adresse")
    assert refused.status_code == 422 and "Adresse électronique invalide." in _read(refused)
    assert 'value="Benali"' in _read(refused)  # what was typed is kept

    answer = await browser.post(
        link,
        headers=FORM,
        data={  # type: ignore[arg-type]
            "civility": "Monsieur",
            "first_name": "Karim",
            "last_name": "Benali",
            "email": "k.benali@hsh.example",
            "title": "Responsable du patrimoine",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "Karim Benali est désormais le contact" in _read(answer)
    async with commitments.client(commitments.service_secret) as service:
        context = ok(await service.get(f"/v1/items/{item}/reminder-context", params={"audience": "liaison"}))
    assert "k.benali@hsh.example" in [r["email"] for r in context["recipients"]]
    assert world.emails["liaison"] not in [r["email"] for r in context["recipients"]]


async def test_expired_altered_and_malformed_links(
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    links = _links(notifications_settings, world, clock)
    token = links["acknowledge"].rsplit("/", 1)[1]
    altered = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for path in (f"/actions/{altered}", "/actions/n-importe-quoi", f"/actions/{token}x"):
        for answer in (await browser.get(path), await browser.post(path, headers=FORM, content=b"")):
            assert answer.status_code == 400 and "Lien invalide" in _read(answer), path
    assert (await browser.get("/actions/" + "A" * 400)).status_code in (400, 422)
    not_a_form = await browser.post(links["acknowledge"], json={"to": "accepted"})
    assert not_a_form.status_code == 400 and "Formulaire" in _read(not_a_form)

    clock.advance(timedelta(days=30))
    for answer in (
        await browser.get(links["acknowledge"]),
        await browser.post(links["acknowledge"], headers=FORM, content=b""),
    ):
        assert answer.status_code == 410 and "Lien expiré" in _read(answer)
    assert await _status(admin, item) == "sent"


async def test_the_service_refuses_to_start_without_a_secret(
    notifications_settings: NotificationsSettings,
) -> None:
    app = create_app(notifications_settings.model_copy(update={"action_link_secret": ""}))
    with pytest.raises(MissingSecret):
        async with LifespanManager(app):
            pass


async def test_a_claim_left_by_a_crash_is_taken_over_after_its_lease(
    app: FastAPI,
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    """A process died between claiming the link and recording its use: the link is busy for a while, then
    usable again (the commitments call is idempotent, so doing it again is safe)."""
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["acknowledge"]
    token_link = verify(notifications_settings.action_link_secret, link.rsplit("/", 1)[1], clock.now())
    async with app.state.sessionmaker() as session, session.begin():
        session.add(
            ActionLinkUse(
                token_id=token_link.token_id,
                purpose="acknowledge",
                item_id=token_link.item_id,
                contact_id=token_link.contact_id,
                claimed_at=clock.now(),
            )
        )
    busy = await browser.post(link, headers=FORM, content=b"")
    assert busy.status_code == 409 and "en cours d'utilisation" in _read(busy)
    assert await _status(admin, item) == "sent"
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    taken_over = await browser.post(link, headers=FORM, content=b"")
    assert taken_over.status_code == 200, taken_over.text
    assert await _status(admin, item) == "acknowledged"
    assert [use.used_at for use in await _uses(app)] == [clock.now()]


async def test_commitments_service_down_leaves_the_link_usable(
    browser: httpx.AsyncClient,
    app: FastAPI,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["acknowledge"]
    healthy = app.state.commitments
    nowhere = CommitmentsClient.from_settings(
        notifications_settings.model_copy(
            update={
                "commitments_url": f"http://127.0.0.1:{free_port()}",
                "commitments_connect_timeout_seconds": 5.0,
            }
        )
    )
    app.state.commitments = nowhere
    try:
        down = await browser.post(link, headers=FORM, content=b"")
    finally:
        app.state.commitments = healthy
        await nowhere.aclose()
    assert down.status_code == 503 and "n'a pas été enregistrée" in _read(down)
    assert await _uses(app) == []
    again = await browser.post(link, headers=FORM, content=b"")
    assert again.status_code == 200, again.text
    assert await _status(admin, item) == "acknowledged"


async def test_a_refusal_of_the_permission_matrix_is_shown_in_its_own_words(
    app: FastAPI,
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    """Vallée Sud Grand Paris is associated with Hauts-de-Seine Habitat's request: its liaison sees the request
    but may not acknowledge it — only the partner asked may. The page says so, in the commitments service's
    words, rather than calling the link unusable."""
    item = world.ids["item"]
    await _move(admin, item, "sent")
    ok(await admin.patch(f"/v1/items/{item}", json={"associated_partner_ids": [world.ids["vsgp"]]}))
    link = _links(notifications_settings, world, clock, contact="vsgp_liaison")["acknowledge"]
    page = await browser.get(link)
    assert page.status_code == 200 and "Rénovation du centre commercial" in _read(page)

    refused = await browser.post(link, headers=FORM, content=b"")
    assert refused.status_code == 403, refused.text
    assert "Action non autorisée" in _read(refused)
    assert (
        "Seul le partenaire sollicité peut accuser réception ; un partenaire associé peut consulter la "
        "demande et y ajouter une note."
    ) in _read(refused)
    assert "n'est plus active" not in _read(refused)
    assert await _status(admin, item) == "sent"
    assert await _uses(app) == []  # nothing happened: the link stays usable


async def test_a_contact_no_longer_active_is_told_the_link_cannot_serve(
    app: FastAPI,
    browser: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    notifications_settings: NotificationsSettings,
    clock: FixedClock,
) -> None:
    item = world.ids["item"]
    await _move(admin, item, "sent")
    link = _links(notifications_settings, world, clock)["acknowledge"]
    ok(await admin.post(f"/v1/contacts/{world.ids['liaison']}/erasure"))
    refused = await browser.post(link, headers=FORM, content=b"")
    assert refused.status_code == 403, refused.text
    assert "Lien inutilisable" in _read(refused) and "n'est plus active" in _read(refused)
    assert await _status(admin, item) == "sent"
