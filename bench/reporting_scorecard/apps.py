"""The two servers of the scorecard bench, built in their uvicorn subprocess (bench/machinery/servers.py):

- the app: the reporting service's `create_app`, as deployed, except that the caller's key is taken for a reader
  without asking the commitments service (in production the answer is cached: a dict lookup per request);
- the baseline: a bare FastAPI endpoint running the very SQL the app sends — the repository's statement,
  compiled once for asyncpg — on an asyncpg pool of the same size, one connection per request, and writing the
  same JSON with `json.dumps` (the one figure left to Python, a percentage, worked out as the service does)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

# At module level: the baseline's parameters are annotated `Annotated[date, Query(alias="from")]`, and FastAPI
# resolves these annotations (strings here) in the module's namespace; with Query imported inside
# baseline_app it could not, and took `start` and `end` for plain query parameters without their aliases.
from fastapi import Query

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


def compiled_statement() -> tuple[str, list[tuple[str | None, Any]]]:
    """The app's statement for a scorecard (`SCORECARD` in services/reporting/reports/repository.py), as asyncpg
    runs it: SQL with $n placeholders, and for each placeholder the name of a request value (partner_id, start,
    end, today, very_late_before) or a constant."""
    from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

    from services.reporting.reports import repository

    dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect classes are untyped
    request_values = {"partner_id", "start", "end", "today", "very_late_before"}
    # Placeholder values, so that the IN lists expand; each request passes its own.
    placeholders = repository.SCORECARD.params(
        partner_id=uuid.UUID(int=0),
        start=date.min,
        end=date.min,
        today=date.min,
        very_late_before=date.min,
    )
    done = placeholders.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    placeholders_of: list[tuple[str | None, Any]] = [
        (key, None) if key in request_values else (None, done.params[key]) for key in done.positiontup or ()
    ]
    return str(done), placeholders_of


def baseline_app(database_url: str, variant: str = "") -> Any:
    import asyncpg
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    from bench.machinery.postgres import plain_url
    from services.reporting.reports.service import very_late_before

    sql, placeholders = compiled_statement()
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
        args = [values[role] if role else constant for role, constant in placeholders]
        async with state["pool"].acquire() as connection:
            row = await connection.fetchrow(sql, *args)
        if row is None:
            return JSONResponse({"detail": "Partenaire introuvable."}, status_code=404)
        with_deadline = row["answered_with_deadline"]
        median = row["median_delay"]
        body = {
            "partner_id": str(partner_id),
            "partner_name": row["name"],
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "as_of": today.isoformat(),
            "requested": row["requested"],
            "acknowledged": row["acknowledged"],
            "answered": row["answered"],
            "answered_within_deadline": row["answered_by_deadline"],
            "answered_within_deadline_percent": round(100 * row["answered_by_deadline"] / with_deadline, 1)
            if with_deadline
            else None,
            "median_response_working_days": None if median is None else float(median),
            "p90_response_working_days": row["p90_delay"],
            "delivered": row["delivered"],
            "verified": row["verified"],
            "overdue_now": {
                "total": row["late"],
                "waiting_on_partner": row["late_on_partner"],
                "waiting_on_city": row["late_on_city"],
            },
            "very_overdue_now": {
                "total": row["very_late"],
                "waiting_on_partner": row["very_late_on_partner"],
                "waiting_on_city": row["very_late_on_city"],
            },
            "reminders_sent": row["sent"],
            "reminders_unreached": row["unreached"],
        }
        return Response(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            media_type="application/json",
        )

    return app


def same_figures(app_body: bytes, baseline_body: bytes) -> bool:
    return bool(json.loads(app_body) == json.loads(baseline_body))


__all__ = ["UTC", "baseline_app", "compiled_statement", "real_app", "same_figures"]
