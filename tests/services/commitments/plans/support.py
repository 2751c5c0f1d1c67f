"""Helpers of the plan import tests: the sample data of Sceaux, and imports run in their own transaction."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from services.commitments.outbox.models import OutboxMessage
from services.commitments.partners.directory import DirectoryFile, DirectoryReport, import_directory
from services.commitments.plans.importer import ImportReport, import_plan_text
from shared.auth import SYSTEM
from shared.clock import Clock

ROOT = Path(__file__).parents[4]
SAMPLE_PLAN = ROOT / "services/commitments/plans/sample_data/plan-action-blagis.txt"
SAMPLE_DIRECTORY = ROOT / "services/commitments/plans/sample_data/annuaire-sceaux.json"
CENTRE_VILLE = Path(__file__).parent / "importer_fixtures/plan-centre-ville.txt"
BLAGIS = {"commune": "Sceaux", "territory": "Quartier des Blagis"}


def sample_directory() -> DirectoryFile:
    return DirectoryFile.model_validate(json.loads(SAMPLE_DIRECTORY.read_text(encoding="utf-8")))


async def load_directory(app: FastAPI, clock: Clock, directory: DirectoryFile | None = None) -> DirectoryReport:
    async with app.state.sessionmaker() as session, session.begin():
        return await import_directory(session, SYSTEM, clock, directory or sample_directory())


async def import_text(app: FastAPI, clock: Clock, text: str, **options: Any) -> ImportReport:
    async with app.state.sessionmaker() as session, session.begin():
        return await import_plan_text(session, SYSTEM, clock, text, **options)


async def import_blagis(app: FastAPI, clock: Clock, **options: Any) -> ImportReport:
    return await import_text(app, clock, SAMPLE_PLAN.read_text(encoding="utf-8"), **{**BLAGIS, **options})


async def outbox_count(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def items_of(admin: Any, plan_id: uuid.UUID | str) -> dict[str, dict[str, Any]]:
    """The plan's items by reference, as the API shows them."""
    page = (await admin.get("/v1/items", params={"plan_id": str(plan_id), "limit": 200})).json()
    return {item["reference"]: item for item in page["items"]}


async def partners_by_name(admin: Any) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in (await admin.get("/v1/partners")).json()}
