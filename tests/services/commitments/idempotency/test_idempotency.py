"""Idempotency-Key on POST: the same key and body replay the first answer and act once (also when sent at the
same time); the same key with another request is a French problem; keys are the caller's own, expire after a
day, and are forgotten when nothing was done."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.commitments.idempotency.models import IdempotencyRecord
from services.commitments.idempotency.retention import RETENTION, purge_expired, purge_periodically
from services.commitments.items.models import Item
from shared.auth import Role


def _body(objective, lead, title="Réseau de bus"):
    return {
        "objective_id": str(objective),
        "kind": "request",
        "title": title,
        "plan_text": "La Ville demande la réorganisation du réseau de bus.",
        "lead_partner_id": str(lead),
    }


async def _count(app, model, *where) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4()}"}


async def test_the_same_key_and_body_replay_the_first_answer_and_act_once(
    app, admin, make_objective, make_partner
):
    body, key = _body(await make_objective(), await make_partner("VSGP")), _key()
    first = await admin.post("/v1/items", json=body, headers=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    for _ in range(2):
        again = await admin.post("/v1/items", json=body, headers=key)
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["content-type"] == first.headers["content-type"]
        assert again.headers["idempotent-replayed"] == "true"
    assert await _count(app, Item) == 1
    assert await _count(app, IdempotencyRecord) == 1


async def test_a_refusal_is_replayed_too(app, admin, make_objective, make_partner):
    """A 4xx was a complete answer (nothing done): the same request under the same key gets it again."""
    body, key = (
        {**_body(await make_objective(), await make_partner("VSGP")), "lead_partner_id": str(uuid.uuid4())},
        _key(),
    )
    first = await admin.post("/v1/items", json=body, headers=key)
    assert first.status_code == 422, first.text
    again = await admin.post("/v1/items", json=body, headers=key)
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (
        422,
        first.json(),
        "true",
    )
    assert again.headers["content-type"] == "application/problem+json"


async def test_the_same_key_with_another_request_is_a_french_problem(
    app, admin, make_objective, make_partner
):
    objective, lead = await make_objective(), await make_partner("VSGP")
    key = _key()
    first = await admin.post("/v1/items", json=_body(objective, lead), headers=key)
    assert first.status_code == 201
    other_body = await admin.post("/v1/items", json=_body(objective, lead, title="Autre"), headers=key)
    other_path = await admin.post(
        f"/v1/items/{first.json()['id']}/transitions", json={"to": "abandoned"}, headers=key
    )
    other_query = await admin.post("/v1/items", params={"x": "1"}, json=_body(objective, lead), headers=key)
    for refused in (other_body, other_path, other_query):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["code"] == "idempotency-key-reused"
        assert problem["detail"] == "Cette Idempotency-Key a déjà servi pour une autre requête."
    assert await _count(app, Item) == 1
    assert (await admin.get(f"/v1/items/{first.json()['id']}")).json()["status"] == "draft"


async def test_keys_belong_to_their_caller(app, admin, make_key, client_for, make_objective, make_partner):
    body, key = _body(await make_objective(), await make_partner("VSGP")), _key()
    city = client_for(await make_key(Role.CITY))
    mine = await admin.post("/v1/items", json=body, headers=key)
    theirs = await city.post("/v1/items", json=body, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers and theirs.json()["id"] != mine.json()["id"]
    assert await _count(app, Item) == 2


async def test_a_malformed_key_is_a_french_400_and_does_nothing(app, admin, make_objective, make_partner):
    body = _body(await make_objective(), await make_partner("VSGP"))
    for key in (b" ", b"x" * 256, b"cl\xc3\xa9\x01"):
        response = await admin.post("/v1/items", json=body, headers={"Idempotency-Key": key})
        assert response.status_code == 400, key
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid-idempotency-key"
        assert response.json()["detail"] == "La clé doit faire 1 à 255 caractères imprimables."
    assert await _count(app, Item) == 0
    assert (
        await admin.post("/v1/items", json=body, headers={"Idempotency-Key": "x" * 255})
    ).status_code == 201


async def test_only_post_is_concerned(app, admin, make_objective, make_partner):
    item = (
        await admin.post("/v1/items", json=_body(await make_objective(), await make_partner("VSGP")))
    ).json()
    key = _key()
    for title in ("Un", "Deux"):
        response = await admin.patch(f"/v1/items/{item['id']}", json={"title": title}, headers=key)
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert (await admin.get(f"/v1/items/{item['id']}")).json()["title"] == "Deux"
    assert await _count(app, IdempotencyRecord) == 0


async def test_nothing_is_kept_when_the_caller_was_not_let_in(app, client_for, make_objective, make_partner):
    """A 401 did nothing: no record, so that the same key works once the caller is let in."""
    body, key = _body(await make_objective(), await make_partner("VSGP")), _key()
    response = await client_for("eng_not-a-key").post("/v1/items", json=body, headers=key)
    assert response.status_code == 401
    assert await _count(app, IdempotencyRecord) == 0


async def test_a_key_expires_after_the_retention(app, admin, clock, make_objective, make_partner):
    objective, lead = await make_objective(), await make_partner("VSGP")
    key = _key()
    assert (await admin.post("/v1/items", json=_body(objective, lead), headers=key)).status_code == 201
    clock.advance(RETENTION)
    reused = await admin.post("/v1/items", json=_body(objective, lead, title="Autre"), headers=key)
    assert reused.status_code == 422  # still within the retention at its very end
    clock.advance(timedelta(seconds=1))
    fresh = await admin.post("/v1/items", json=_body(objective, lead, title="Autre"), headers=key)
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers
    assert await _count(app, Item) == 2
    assert await _count(app, IdempotencyRecord) == 1


async def test_purge_drops_the_expired_records_only(app, admin, clock, make_objective, make_partner):
    objective, lead = await make_objective(), await make_partner("VSGP")
    old_key, new_key = _key(), _key()
    await admin.post("/v1/items", json=_body(objective, lead), headers=old_key)
    clock.advance(timedelta(hours=12))
    await admin.post("/v1/items", json=_body(objective, lead), headers=new_key)
    clock.advance(timedelta(hours=12, seconds=1))
    async with app.state.sessionmaker() as session, session.begin():
        assert await purge_expired(session, clock) == 1
    async with app.state.sessionmaker() as session:
        assert list(await session.scalars(select(IdempotencyRecord.key))) == [new_key["Idempotency-Key"]]


async def _keys(app) -> set[str]:
    async with app.state.sessionmaker() as session:
        return set(await session.scalars(select(IdempotencyRecord.key)))


async def test_the_periodic_purge_drops_each_record_once_it_has_expired(
    app, admin, clock, make_objective, make_partner
):
    objective, lead = await make_objective(), await make_partner("VSGP")
    keys = [_key(), _key(), _key()]
    for key in keys:
        await admin.post("/v1/items", json=_body(objective, lead), headers=key)
        clock.advance(timedelta(hours=1))
    names = [key["Idempotency-Key"] for key in keys]
    clock.advance(RETENTION - timedelta(hours=len(keys)) + timedelta(seconds=1))  # the first key has expired
    stop = asyncio.Event()
    purge = asyncio.create_task(purge_periodically(app.state.sessionmaker, clock, stop, every_seconds=0.01))
    try:
        for expired in range(1, len(keys) + 1):
            for _ in range(3000):  # a generous bound (30 s): a purge runs every 10 ms
                if await _keys(app) == set(names[expired:]):
                    break
                await asyncio.sleep(0.01)
            assert await _keys(app) == set(names[expired:])
            clock.advance(timedelta(hours=1))  # the next one expires
    finally:
        stop.set()
        await purge


async def test_the_same_key_sent_at_the_same_time_acts_once(app, admin, make_objective, make_partner):
    body, key = _body(await make_objective(), await make_partner("VSGP")), _key()
    responses = await asyncio.gather(*(admin.post("/v1/items", json=body, headers=key) for _ in range(8)))
    created = [r for r in responses if r.status_code == 201]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(created) + len(in_progress) == 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in created}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in created) == 1
    for response in in_progress:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "idempotency-key-in-progress"
        assert response.json()["detail"].startswith(
            "Une requête avec cette Idempotency-Key est en cours de traitement. Réessayez plus tard"
        )
        assert int(response.headers["retry-after"]) >= 1
    assert await _count(app, Item) == 1
    # Once the first has answered, the key replays it.
    replay = await admin.post("/v1/items", json=body, headers=key)
    assert replay.status_code == 201 and replay.json()["id"] == created[0].json()["id"]
