"""Routes of the exports (/v1/exports): each one a file to download, scoped like the reports."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from services.reporting.dependencies import ClockDep, PrincipalDep, SessionDep, SettingsDep
from services.reporting.exports import opendata, service
from services.reporting.exports.sheets import CSV_MEDIA_TYPE, ODS_MEDIA_TYPE, Sheet, to_csv, to_ods
from services.reporting.reports import service as reports
from services.reporting.reports.router import FromDate, ToDate
from shared.clock import paris_today

router = APIRouter(prefix="/v1/exports", tags=["Exports"])

Format = Literal["csv", "ods"]
_FILES: dict[str, Any] = {"content": {CSV_MEDIA_TYPE: {}, ODS_MEDIA_TYPE: {}}}
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


async def _sheet_file(sheet: Sheet, fmt: Format) -> Response:
    if fmt == "ods":
        # Building an ODS costs about a millisecond per cell: off the event loop, so that other requests go on.
        content = await run_in_threadpool(to_ods, sheet)
        return _attachment(content, ODS_MEDIA_TYPE, f"{sheet.filename}.ods")
    return _attachment(to_csv(sheet), CSV_MEDIA_TYPE, f"{sheet.filename}.csv")


@router.get("/items.{fmt}", response_class=Response, responses={200: _FILES, 404: _PROBLEM})
async def export_items(
    fmt: Format,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Response:
    """The items the caller may see (CSV « ; » UTF-8 with BOM, or ODS), French headers and dates."""
    return await _sheet_file(await service.items_sheet(session, principal, clock, plan_id, partner_id), fmt)


@router.get("/deadlines.{fmt}", response_class=Response, responses={200: _FILES, 404: _PROBLEM})
async def export_deadlines(
    fmt: Format,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    include_met: Annotated[
        bool, Query(description="Aussi les échéances atteintes et celles des éléments terminés.")
    ] = False,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Response:
    """The open deadlines (or all of them) of the items the caller may see, by date in force."""
    sheet = await service.deadlines_sheet(session, principal, clock, include_met, plan_id, partner_id)
    return await _sheet_file(sheet, fmt)


@router.get("/scorecards.{fmt}", response_class=Response, responses={200: _FILES, 422: _PROBLEM})
async def export_scorecards(
    fmt: Format,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    settings: SettingsDep,
    start: FromDate = None,
    end: ToDate = None,
) -> Response:
    """The scorecard of every partner the caller may see over the period, one row each."""
    period = reports.default_period(clock, start, end)
    sheet = await service.scorecards_sheet(
        session, principal, clock, period, settings.very_overdue_working_days
    )
    return await _sheet_file(sheet, fmt)


@router.get(
    f"/open-data/{opendata.CSV_NAME}",
    response_class=Response,
    responses={200: {"content": {opendata.CSV_MEDIA_TYPE: {}}}},
)
async def open_data_csv(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, plan_id: uuid.UUID | None = None
) -> Response:
    """Open data: the items' public fields (no personal data), as datapackage.json describes them."""
    content = await opendata.open_data_csv(session, principal, clock, plan_id)
    return _attachment(content, opendata.CSV_MEDIA_TYPE, opendata.CSV_NAME)


@router.get(
    "/open-data/datapackage.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def open_data_package(principal: PrincipalDep, clock: ClockDep) -> Response:
    """The Frictionless Data Package descriptor of the open-data CSV (its Table Schema inline)."""
    descriptor = opendata.datapackage(paris_today(clock))
    return _attachment(
        json.dumps(descriptor, ensure_ascii=False, indent=2).encode(), "application/json", "datapackage.json"
    )


@router.get(
    "/open-data/schema.json", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
async def open_data_schema(principal: PrincipalDep) -> Response:
    """The Table Schema of the open-data CSV alone."""
    return _attachment(
        json.dumps(opendata.table_schema(), ensure_ascii=False, indent=2).encode(),
        "application/json",
        "schema.json",
    )
