"""The two servers of the scorecard bench, built in their uvicorn subprocess (bench/machinery/servers.py):

- the app: the reporting service's `create_app`, as deployed, except that the caller's key is taken for a reader
  without asking the commitments service (in production the answer is cached: a dict lookup per request);
- the baseline: a bare FastAPI endpoint running the very SQL the app sends — the repository's statements,
  compiled once for asyncpg — on an asyncpg pool of the same size, one connection per request, and writing the
  same JSON with `json.dumps` (the figures worked out by the service's own helpers)."""

from __future__ import annotations

import json
import statistics
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from bench.reporting_scorecard.data import AS_OF

AS_OF_INSTANT = datetime.fromisoformat(f"{AS_OF}T09:00:00+00:00")
VERY_OVERDUE_WORKING_DAYS = 20
POOL_SIZE = 20


class _Reader:
    """Every key is a reader's (the bench measures the reports, not the key check)."""

    async def whoami(self, secret: str) -> Any:
        from shared.auth import Principal, Role

        return Principal(role=Role.READER)


def real_app(database_url: str, variant: str = "") -> Any:
    from bench.machinery.servers import NATS_URL
    from services.reporting.app import create_app
    from services.reporting.config import ReportingSettings
    from shared.clock import FixedClock
    from shared.key_checks import KeyVerifier

    if variant:
        raise SystemExit(f"the reporting app has no variant {variant!r}")
    settings = ReportingSettings(
        reporting_database_url=database_url,
        nats_url=NATS_URL,
        database_pool_size=POOL_SIZE,
        otel_exporter_otlp_endpoint=None,
        very_overdue_working_days=VERY_OVERDUE_WORKING_DAYS,
    )
    app = create_app(settings, FixedClock(AS_OF_INSTANT))
    app.state.key_verifier = KeyVerifier(_Reader(), ttl_seconds=3600)
    return app


def compiled_statements() -> dict[str, tuple[str, list[tuple[str | None, Any]]]]:
    """The app's statements for a scorecard (services/reporting/reports/repository.py), as asyncpg runs them: SQL
    with $n placeholders, and for each placeholder the name of a request value (partner_id, start, end, today,
    very_late_before) or a constant."""
    from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

    from services.reporting.reports import repository

    dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect classes are untyped
    request_values = {"partner_id", "start", "end", "today", "very_late_before"}
    compiled = {}
    for name, statement in (
        ("counts", repository.COUNTS),
        ("delays", repository.RESPONSE_DELAYS),
        ("lateness", repository.LATENESS),
    ):
        # Placeholder values, so that the IN lists expand; each request passes its own.
        placeholders = statement.params(
            partner_id=uuid.UUID(int=0),
            start=date.min,
            end=date.min,
            today=date.min,
            very_late_before=date.min,
        )
        done = placeholders.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        placeholders_of: list[tuple[str | None, Any]] = [
            (key, None) if key in request_values else (None, done.params[key])
            for key in done.positiontup or ()
        ]
        compiled[name] = (str(done), placeholders_of)
    return compiled


def baseline_app(database_url: str, variant: str = "") -> Any:
    import asyncpg
    from fastapi import FastAPI, Query
    from fastapi.responses import JSONResponse, Response

    from bench.machinery.postgres import plain_url
    from services.reporting.reports.service import nearest_rank, very_late_before

    statements = compiled_statements()
    state: dict[str, Any] = {}
    today = AS_OF_INSTANT.date()
    very = very_late_before(today, VERY_OVERDUE_WORKING_DAYS)

    async def lifespan(app: FastAPI) -> Any:
        state["pool"] = await asyncpg.create_pool(
            plain_url(database_url), min_size=POOL_SIZE, max_size=POOL_SIZE
        )
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> Response:
        return Response(b"ok")

    @app.get("/scorecard/{partner_id}")
    async def scorecard(
        partner_id: uuid.UUID,
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
    ) -> Response:
        values = {
            "partner_id": partner_id,
            "start": start,
            "end": end,
            "today": today,
            "very_late_before": very,
        }

        def args(name: str) -> list[Any]:
            return [values[role] if role else constant for role, constant in statements[name][1]]

        async with state["pool"].acquire() as connection:
            steps = await connection.fetchrow(statements["counts"][0], *args("counts"))
            if steps is None:
                return JSONResponse({"detail": "Partenaire introuvable."}, status_code=404)
            delays = [row[0] for row in await connection.fetch(statements["delays"][0], *args("delays"))]
            lateness = await connection.fetch(statements["lateness"][0], *args("lateness"))
        late = {row["waiting_on"]: (row["late"], row["very_late"]) for row in lateness}

        def late_count(index: int) -> dict[str, int]:
            by_party = {party: counts[index] for party, counts in late.items()}
            return {
                "total": sum(by_party.values()),
                "waiting_on_partner": by_party.get("partner", 0),
                "waiting_on_city": by_party.get("city", 0),
            }

        with_deadline = steps["answered_with_deadline"]
        body = {
            "partner_id": str(partner_id),
            "partner_name": steps["name"],
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "as_of": today.isoformat(),
            "requested": steps["requested"],
            "acknowledged": steps["acknowledged"],
            "answered": steps["answered"],
            "answered_within_deadline": steps["answered_by_deadline"],
            "answered_within_deadline_percent": round(100 * steps["answered_by_deadline"] / with_deadline, 1)
            if with_deadline
            else None,
            "median_response_working_days": float(statistics.median(delays)) if delays else None,
            "p90_response_working_days": nearest_rank(delays, 0.9),
            "delivered": steps["delivered"],
            "verified": steps["verified"],
            "overdue_now": late_count(0),
            "very_overdue_now": late_count(1),
            "reminders_sent": steps["sent"],
            "reminders_unreached": steps["unreached"],
        }
        return Response(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            media_type="application/json",
        )

    return app


def same_figures(app_body: bytes, baseline_body: bytes) -> bool:
    return bool(json.loads(app_body) == json.loads(baseline_body))


__all__ = ["UTC", "baseline_app", "compiled_statements", "real_app", "same_figures"]
