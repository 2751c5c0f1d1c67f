"""One trace from the HTTP request through SQL and the outbox to the NATS message headers."""

from __future__ import annotations

import nats
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.commitments.outbox.relay import OutboxRelay
from shared.bus import ensure_stream
from shared.telemetry import setup_tracing


async def test_trace_id_travels_from_http_request_to_nats_headers(app, admin, settings, clock):
    exporter = InMemorySpanExporter()
    setup_tracing("commitments", None, exporter)
    response = await admin.post(
        "/v1/partners", json={"name": "Les Gémeaux", "kind": "etablissement_culturel"}
    )
    assert response.status_code == 201
    server_spans = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.attributes.get("http.route") == "/v1/partners"
    ]
    assert server_spans, [s.name for s in exporter.get_finished_spans()]
    trace_id = server_spans[-1].context.trace_id
    sql_spans = [
        s
        for s in exporter.get_finished_spans()
        if s.attributes.get("db.system") or s.attributes.get("db.system.name")
    ]
    assert any(s.context.trace_id == trace_id for s in sql_spans), "SQL spans belong to the request's trace"

    client = await nats.connect(settings.nats_url)
    try:
        relay = OutboxRelay(app.state.sessionmaker, client, app.state.stream, clock)
        await ensure_stream(client.jetstream(), app.state.stream)
        assert await relay.drain() >= 1
        message = await client.jetstream().get_last_msg(
            app.state.stream.name, app.state.stream.subject_for("partner.created")
        )
    finally:
        await client.close()
    traceparent = message.headers["traceparent"]
    assert traceparent.split("-")[1] == format(trace_id, "032x")
    publish = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    assert publish and publish[-1].context.trace_id == trace_id
    assert traceparent.split("-")[2] == format(publish[-1].context.span_id, "016x")
