"""The outbox relay publishes what the API committed: one message per outbox row, in order, with the event id
as `Nats-Msg-Id`, a W3C trace context, a valid envelope and no personal data; and a commit wakes the relay at
once."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.api import RawStreamMsg

from services.commitments.outbox.relay import OutboxRelay
from shared.bus import StreamSpec, connect
from shared.clock import FixedClock
from shared.events import EventEnvelope, event_types
from tests.jetstream import stream_messages
from tests.services.commitments.outbox.published import event_ids, message_ids, outbox_rows
from tests.waiting import wait_until

# The relay inside the API process, with a poll far longer than any wait below: only a wake-up is that fast.
IN_PROCESS_RELAY = {"relay_in_process": True, "relay_poll_seconds": 30.0}
ARRIVAL_TIMEOUT = 10.0  # generous, and well under the 30 s poll


async def _create_partner(admin: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await admin.post("/v1/partners", json={"name": name, "kind": "bailleur_social"})
    assert response.status_code == 201, response.text
    return response.json()


async def _all_published(app: FastAPI) -> bool:
    rows = await outbox_rows(app.state.sessionmaker)
    return bool(rows) and all(row.published_at is not None for row in rows)


def _trace_id(traceparent: str) -> str:
    version, trace_id, _span_id, _flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and trace_id != "0" * 32
    return trace_id


@pytest.mark.parametrize("settings_overrides", [IN_PROCESS_RELAY], ids=["in-process-relay"])
async def test_relay_publishes_each_outbox_row_once_in_order_without_personal_data(
    app: FastAPI, admin: httpx.AsyncClient, nats_client: NatsClient, stream: StreamSpec
) -> None:
    tag = uuid.uuid4().hex[:8]
    partners = [await _create_partner(admin, f"Bailleur {tag} {n}") for n in range(3)]
    # A person with values found nowhere else, written, changed, then erased: none of it may reach the bus.
    personal = {
        "first_name": f"Zephyrine{tag}",
        "last_name": f"Quenottier{tag}",
        "title": f"Chargee de mission {tag}",
        "email": f"zq.{tag}@example.org",
        "phone": "+33 6 12 34 56 78",
    }
    created = await admin.post(
        f"/v1/partners/{partners[0]['id']}/contacts", json={**personal, "role": "liaison"}
    )
    assert created.status_code == 201, created.text
    assert {key: created.json()[key] for key in personal} == personal
    contact_id = created.json()["id"]
    personal["new_email"] = f"zephyrine.{tag}@example.net"
    updated = await admin.patch(
        f"/v1/contacts/{contact_id}", json={"email": personal["new_email"], "role": "deputy"}
    )
    assert updated.status_code == 200, updated.text
    erased = await admin.post(f"/v1/contacts/{contact_id}/erasure")
    assert erased.status_code == 200, erased.text

    await wait_until(lambda: _all_published(app), "the relay to publish every row", ARRIVAL_TIMEOUT)
    rows = await outbox_rows(app.state.sessionmaker)
    messages = await stream_messages(nats_client.jetstream(), stream.name)

    assert [row.event_type for row in rows] == [
        "api_key.created",
        *["partner.created"] * 3,
        "contact.created",
        "contact.updated",
        "contact.erased",
    ]
    assert message_ids(messages) == event_ids(rows)  # one message per row, in order, dedup id = event id
    registry = event_types()
    for row, message in zip(rows, messages, strict=True):
        assert message.subject == f"{stream.subject_prefix}.{row.event_type}"
        envelope = EventEnvelope.model_validate_json(message.data or b"")
        assert (str(envelope.id), envelope.type) == (str(row.event_id), row.event_type)
        assert isinstance(envelope.parsed(), registry[(envelope.type, envelope.version)])
        headers = message.headers or {}
        published_trace = _trace_id(headers["traceparent"])
        if "traceparent" in row.headers:  # recorded inside an HTTP request: the publish continues that trace
            assert published_trace == _trace_id(row.headers["traceparent"])
        _assert_no_personal_data(message, personal.values())

    published = [EventEnvelope.model_validate_json(m.data or b"").data for m in messages[1:4]]
    assert [(p["partner_id"], p["name"]) for p in published] == [(p["id"], p["name"]) for p in partners]
    assert all(row.headers.get("traceparent") for row in rows[1:])  # each API write carries its trace


def _assert_no_personal_data(message: RawStreamMsg, values: Any) -> None:
    payload = (message.data or b"").decode()
    text = "\n".join(
        [
            payload,
            json.dumps(json.loads(payload), ensure_ascii=False),
            json.dumps(message.headers or {}, ensure_ascii=False),
        ]
    ).casefold()
    for value in values:
        assert value.casefold() not in text, f"{value!r} published on {message.subject}"
    assert "12 34 56 78" not in text and "12345678" not in text


async def _partner_event_arrives(
    nats_client: NatsClient, stream: StreamSpec, partner_id: str, event_type: str
) -> bool:
    for message in await stream_messages(nats_client.jetstream(), stream.name):
        envelope = EventEnvelope.model_validate_json(message.data or b"")
        if envelope.type == event_type and envelope.data.get("partner_id") == partner_id:
            return True
    return False


@pytest.mark.parametrize("settings_overrides", [IN_PROCESS_RELAY], ids=["in-process-relay"])
async def test_commit_wakes_the_in_process_relay(
    app: FastAPI, admin: httpx.AsyncClient, nats_client: NatsClient, stream: StreamSpec
) -> None:
    relay: OutboxRelay = await wait_until(
        lambda: getattr(app.state, "relay", None), "the in-process relay to start", ARRIVAL_TIMEOUT
    )
    assert relay.poll_seconds == 30.0
    # Each change is awaited before the next: after the first, the relay is idle in its 30 s wait, so only
    # the wake-up from the commit can bring the next events out in time.
    first = await _create_partner(admin, f"Bailleur {uuid.uuid4().hex[:8]}")
    await wait_until(
        lambda: _partner_event_arrives(nats_client, stream, first["id"], "partner.created"),
        "the first event",
        ARRIVAL_TIMEOUT,
    )
    renamed = await admin.patch(
        f"/v1/partners/{first['id']}", json={"name": f"Renomme {uuid.uuid4().hex[:8]}"}
    )
    assert renamed.status_code == 200, renamed.text
    await wait_until(
        lambda: _partner_event_arrives(nats_client, stream, first["id"], "partner.updated"),
        "the update event, woken by its commit",
        ARRIVAL_TIMEOUT,
    )
    second = await _create_partner(admin, f"Bailleur {uuid.uuid4().hex[:8]}")
    await wait_until(
        lambda: _partner_event_arrives(nats_client, stream, second["id"], "partner.created"),
        "the second partner's event, woken by its commit",
        ARRIVAL_TIMEOUT,
    )


async def test_commit_pings_a_relay_running_in_another_process(
    app: FastAPI,
    admin: httpx.AsyncClient,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    nats_url: str,
) -> None:
    """With the relay out of the API process, the API's commit hook pings it over core NATS."""
    relay_connection = await connect(nats_url, name="outbox-tests-relay")
    relay = OutboxRelay(app.state.sessionmaker, relay_connection, stream, clock, poll_seconds=30.0)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await wait_until(lambda: app.state.bus.connected, "the API's NATS connection", ARRIVAL_TIMEOUT)
        first = await _create_partner(admin, f"Bailleur {uuid.uuid4().hex[:8]}")
        await wait_until(
            lambda: _partner_event_arrives(nats_client, stream, first["id"], "partner.created"),
            "the first event",
            ARRIVAL_TIMEOUT,
        )
        second = await _create_partner(admin, f"Bailleur {uuid.uuid4().hex[:8]}")
        await wait_until(
            lambda: _partner_event_arrives(nats_client, stream, second["id"], "partner.created"),
            "the second event, woken by the API's ping",
            ARRIVAL_TIMEOUT,
        )
        assert relay.stats.duplicates == 0
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await relay_connection.close()
