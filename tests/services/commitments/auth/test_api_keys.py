"""API keys: shown once, stored hashed, revoked at once."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.commitments.auth.models import ApiKey


async def test_key_shown_once_stored_hashed_and_revocation_is_immediate(app, admin, client_for, make_partner):
    partner_id = await make_partner("CSCB")
    created = await admin.post(
        "/v1/api-keys", json={"name": "CSCB", "role": "partner", "partner_id": str(partner_id)}
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("eng_") and len(secret) > 40
    listed = (await admin.get("/v1/api-keys")).json()
    assert all("secret" not in k for k in listed)
    async with app.state.sessionmaker() as session:
        stored = (
            await session.scalars(select(ApiKey).where(ApiKey.id == uuid.UUID(created.json()["id"])))
        ).one()
    assert secret not in (stored.key_hash, stored.prefix, stored.name)

    partner = client_for(secret)
    me = (await partner.get("/v1/auth/whoami")).json()
    assert me["role"] == "partner" and me["partner_id"] == str(partner_id)
    assert (await admin.post(f"/v1/api-keys/{created.json()['id']}/revoke")).status_code == 200
    refused = await partner.get("/v1/items")
    assert refused.status_code == 401 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )


async def test_partner_role_requires_partner_and_only_admin_creates_keys(admin, make_key, client_for):
    from shared.auth import Role

    assert (await admin.post("/v1/api-keys", json={"name": "x", "role": "partner"})).status_code == 422
    city = client_for(await make_key(Role.CITY))
    assert (await city.post("/v1/api-keys", json={"name": "x", "role": "admin"})).status_code == 403
    assert (await client_for("eng_nope").get("/v1/items")).status_code == 401
    assert (await client_for(None).get("/v1/items")).status_code == 401


async def test_revocation_event_evicts_key_from_another_replica(settings, clock, make_key, client_for, app):
    """Two app instances (replicas) on one database: revoking on one makes the other refuse the key at once,
    well before its 5-second cache would expire, through the `api_key.revoked` event."""
    import asyncio

    import httpx
    from asgi_lifespan import LifespanManager

    from services.commitments.app import create_app
    from shared.auth import Role

    secret = await make_key(Role.READER)
    admin_secret = await make_key(Role.ADMIN)
    replica_settings = settings.model_copy(update={"relay_in_process": True, "principal_cache_seconds": 3600})
    replica = create_app(replica_settings, clock)
    async with LifespanManager(replica):
        for _ in range(100):  # the replica connects to NATS in the background
            if replica.state.bus.connected and getattr(replica.state, "relay", None) is not None:
                break
            await asyncio.sleep(0.05)
        on_replica = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=replica),
            base_url="http://r",
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert (await on_replica.get("/v1/items")).status_code == 200  # now cached for an hour on the replica
        admin_on_replica = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=replica),
            base_url="http://r",
            headers={"Authorization": f"Bearer {admin_secret}"},
        )
        key_id = (await on_replica.get("/v1/auth/whoami")).json()["key_id"]
        # Revoke through the first instance; its event reaches the replica over NATS.
        assert (await client_for(admin_secret).post(f"/v1/api-keys/{key_id}/revoke")).status_code == 200
        status = 200
        for _ in range(100):
            status = (await on_replica.get("/v1/items")).status_code
            if status == 401:
                break
            await asyncio.sleep(0.05)
        assert status == 401
        assert (await admin_on_replica.get("/v1/auth/whoami")).status_code == 200
