"""The notifications API with the commitments service's keys: partner scoping on deliveries, preferences and
the weekly digest, resend, key revocation honoured at once, bad input answered with problem+json."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NatsClient

from services.notifications.config import NotificationsSettings
from services.notifications.consumer import Worker, worker
from shared.auth import Role
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from tests.responses import ok
from tests.services.notifications.in_process_api import client, notifications_api
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until


async def consume_all(running: Worker, expected_rows: int) -> None:
    """Handle every event in the stream once, then send whatever is due (no background loops: the clock is fixed)."""
    await running.consumer.subscribe()
    assert running.consumer.subscription is not None
    handled = 0
    while handled < expected_rows:
        messages = await running.consumer.subscription.fetch(50, timeout=5)
        await running.consumer.handle(messages)
        handled += len(messages)
    while await running.sender.send_due():
        pass


async def test_a_partner_key_sees_only_its_own_deliveries(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due"))
    await publish(js, stream, reminder_event(world, "due", item="vsgp_item", audience=("liaison",)))
    async with worker(notifications_settings, clock) as running:
        await consume_all(running, 2)
    _, hsh_secret = await commitments.make_key(Role.PARTNER, world.ids["hsh"])
    _, reader_secret = await commitments.make_key(Role.READER)
    async with notifications_api(notifications_settings, clock) as app:
        admin, hsh, reader = (client(app, s) for s in (commitments.admin_secret, hsh_secret, reader_secret))
        everything = ok(await admin.get("/v1/deliveries"))["items"]
        assert len(everything) == 3 and {d["status"] for d in everything} == {"sent"}
        own = ok(await hsh.get("/v1/deliveries"))["items"]
        assert sorted(d["contact_id"] for d in own) == sorted([world.ids["liaison"], world.ids["deputy"]])
        other = next(d for d in everything if d["partner_id"] == world.ids["vsgp"])
        assert (await hsh.get(f"/v1/deliveries/{other['id']}")).status_code == 404
        assert ok(await hsh.get("/v1/deliveries", params={"partner_id": world.ids["vsgp"]}))["items"] == []
        assert (await hsh.post(f"/v1/deliveries/{own[0]['id']}/resend")).status_code == 403
        assert (
            len(ok(await reader.get("/v1/deliveries", params={"item_id": world.ids["vsgp_item"]}))["items"])
            == 1
        )
        # Filters and cursor pagination.
        page = ok(await admin.get("/v1/deliveries", params={"limit": 2}))
        rest = ok(await admin.get("/v1/deliveries", params={"limit": 2, "cursor": page["next_cursor"]}))
        assert [d["id"] for d in page["items"] + rest["items"]] == [d["id"] for d in everything]
        assert rest["next_cursor"] is None
        assert ok(await admin.get("/v1/deliveries", params={"status": "failed"}))["items"] == []
        # Resend: pending again, under a new Message-ID.
        resent = ok(await admin.post(f"/v1/deliveries/{other['id']}/resend"))
        assert resent["status"] == "pending" and resent["message_id"] != other["message_id"]
        assert (await admin.post(f"/v1/deliveries/{other['id']}/resend")).status_code == 409


async def test_bad_input_is_a_problem_not_a_crash(
    notifications_settings: NotificationsSettings, commitments: Commitments
) -> None:
    async with notifications_api(notifications_settings, FixedClock()) as app:
        admin = client(app, commitments.admin_secret)
        for path, params in (
            ("/v1/deliveries", {"status": "lost"}),
            ("/v1/deliveries", {"cursor": "x"}),
            ("/v1/deliveries", {"limit": "0"}),
            ("/v1/deliveries/not-an-id", {}),
            ("/v1/deliveries", {"item_id": "\x00"}),
        ):
            response = await admin.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        assert (await admin.get(f"/v1/deliveries/{uuid.uuid4()}")).status_code == 404
        assert (await client(app, None).get("/v1/deliveries")).status_code == 401
        assert (await client(app, "eng_not-a-key").get("/v1/deliveries")).status_code == 401
        bad_body = await admin.put(
            f"/v1/contacts/{uuid.uuid4()}/preferences", json={"approaching": "sometimes"}
        )
        assert bad_body.status_code == 422
        ready = await client(app, None).get("/readyz")
        assert ready.status_code in (200, 503) and ready.json()["checks"]["database"] == "ok"


async def test_preferences_and_the_weekly_digest(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    clock = FixedClock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # a Tuesday
    _, hsh_secret = await commitments.make_key(Role.PARTNER, world.ids["hsh"])
    _, vsgp_secret = await commitments.make_key(Role.PARTNER, world.ids["vsgp"])
    async with notifications_api(notifications_settings, clock) as app:
        hsh, vsgp = client(app, hsh_secret), client(app, vsgp_secret)
        path = f"/v1/contacts/{world.ids['liaison']}/preferences"
        assert ok(await hsh.get(path))["approaching"] == "immediate"
        assert (
            ok(await hsh.put(path, json={"approaching": "weekly_digest"}))["approaching"] == "weekly_digest"
        )
        assert ok(await hsh.get(path))["approaching"] == "weekly_digest"
        assert (await vsgp.put(path, json={"approaching": "immediate"})).status_code == 404
        assert (await vsgp.get(path)).status_code == 404
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "approaching", step="j-10"))
    await publish(js, stream, reminder_event(world, "approaching", step="j-3"))
    await publish(js, stream, reminder_event(world, "due", audience=("liaison",)))
    async with worker(notifications_settings, clock) as running:
        await consume_all(running, 3)
        # The deputy chose nothing: both "approaching" reminders now; the liaison: only the due one (never held).
        assert len(handler.mails_to(world.emails["deputy"])) == 2
        assert len(handler.mails_to(world.emails["liaison"])) == 1
        assert await running.digest_pass() == 0  # the next slot is Monday 9 March, 08:30 in Paris
        clock.instant = datetime(2026, 3, 9, 7, 30, tzinfo=UTC)  # Monday 08:30 Paris (UTC+1)
        assert await running.digest_pass() == 1
        assert await running.digest_pass() == 0  # gathered once
        while await running.sender.send_due():
            pass
    liaison_mails = handler.mails_to(world.emails["liaison"])
    assert len(liaison_mails) == 2
    digest = liaison_mails[1].message
    assert "Récapitulatif" in str(digest["Subject"])
    assert "Rénovation du centre commercial" in digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_revoked_key_is_refused_at_once(
    notifications_settings: NotificationsSettings, commitments: Commitments
) -> None:
    # A cache far longer than the test: only the api_key.revoked event can make the key fail.
    settings = notifications_settings.model_copy(update={"principal_cache_seconds": 3600.0})
    key_id, secret = await commitments.make_key(Role.CITY)
    async with notifications_api(settings, FixedClock()) as app:
        await wait_until(lambda: app.state.bus.connected, "the API connected to NATS")
        city = client(app, secret)
        assert (await city.get("/v1/deliveries")).status_code == 200
        async with commitments.client(commitments.admin_secret) as admin:
            ok(await admin.post(f"/v1/api-keys/{key_id}/revoke"))

        async def refused() -> bool:
            return (await city.get("/v1/deliveries")).status_code == 401

        await wait_until(refused, "the revoked key refused")
