"""OpenTelemetry tracing and structured logs that carry the trace id."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# The SDK, the SQLAlchemy instrumentation and the propagators are imported where they are used: a process
# that does not trace (a command line's --help, the relay without an OTLP endpoint) does not pay for them.

_configured_provider: TracerProvider | None = None


def setup_tracing(
    service_name: str, otlp_endpoint: str | None, extra_exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install one tracer provider per process; spans go to OTLP when an endpoint is configured."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    global _configured_provider
    if _configured_provider is None:
        _configured_provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        trace.set_tracer_provider(_configured_provider)
        # Every engine created from now on (shared.db.create_engine) gets SQL spans.
        SQLAlchemyInstrumentor().instrument(tracer_provider=_configured_provider)
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
            _configured_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if extra_exporter is not None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        _configured_provider.add_span_processor(SimpleSpanProcessor(extra_exporter))
    return _configured_provider


def inject_trace_context(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current W3C trace context (traceparent, tracestate) into message headers."""
    from opentelemetry import propagate

    propagate.inject(headers)
    return headers


def extract_trace_context(headers: Mapping[str, str] | None) -> Any:
    """The OpenTelemetry context carried by message headers, to parent a consumer's span."""
    from opentelemetry import propagate

    return propagate.extract(dict(headers or {}))


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """Give an HTTP client a CLIENT span per request and the W3C trace headers (with the maintained
    opentelemetry-instrumentation-httpx): the service called carries on the caller's trace. Spans are recorded
    once a tracer provider is installed, whenever that is; the headers go out even when none is (a trace begun
    upstream carries on downstream)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line with the current trace and span ids."""

    def format(self, record: logging.LogRecord) -> str:
        span_context = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Log to stderr, as JSON lines carrying trace ids unless plain text is asked for."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
