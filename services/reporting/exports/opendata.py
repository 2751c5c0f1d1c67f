"""The open-data export: one CSV of the items' public fields and its Frictionless descriptor (a Data Package
whose one resource carries its Table Schema).

Public fields only: the plan, the item's public title and kind, its status and dates, the lead organisation's
name. No personal data: no contact, no person's name, no address, nothing from the deliveries. The CSV
follows the open-data habits (data.gouv.fr's and the Table Schema's defaults) rather than a spreadsheet's:
UTF-8 without byte-order mark, `,` between fields, ISO 8601 dates, `true`/`false`."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.exports.service import item_progress, numbered
from services.reporting.labels import KIND_LABELS, STATUS_LABELS, label
from services.reporting.reports import repository
from services.reporting.reports import service as reports
from shared.auth import Principal
from shared.clock import Clock, paris_today

RESOURCE = "engagements"
CSV_NAME = f"{RESOURCE}.csv"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"


def _date_field(name: str, title: str) -> dict[str, Any]:
    return {"name": name, "type": "date", "format": "default", "title": title}


FIELDS: list[dict[str, Any]] = [
    {
        "name": "identifiant",
        "type": "string",
        "format": "uuid",
        "title": "Identifiant",
        "description": "Identifiant stable de l'élément.",
        "constraints": {"required": True, "unique": True},
    },
    {"name": "commune", "type": "string", "title": "Commune"},
    {"name": "plan", "type": "string", "title": "Plan d'action"},
    {"name": "axe", "type": "string", "title": "Axe", "description": "Numéro et intitulé de l'axe du plan."},
    {
        "name": "objectif",
        "type": "string",
        "title": "Objectif",
        "description": "Lettre et intitulé de l'objectif.",
    },
    {"name": "intitule", "type": "string", "title": "Intitulé", "constraints": {"required": True}},
    {
        "name": "nature",
        "type": "string",
        "title": "Nature",
        "description": "Demande de la ville à un partenaire, ou engagement de la ville elle-même.",
        "constraints": {"required": True, "enum": list(KIND_LABELS.values())},
    },
    {
        "name": "statut",
        "type": "string",
        "title": "Statut",
        "constraints": {"required": True, "enum": list(STATUS_LABELS.values())},
    },
    {
        "name": "partenaire_pilote",
        "type": "string",
        "title": "Partenaire pilote",
        "description": "Organisation à qui la demande est faite (aucune personne n'est nommée).",
    },
    {
        "name": "avancement",
        "type": "integer",
        "title": "Avancement (%)",
        "constraints": {"minimum": 0, "maximum": 100},
    },
    _date_field("date_creation", "Créé le"),
    _date_field("date_envoi", "Demande envoyée le"),
    _date_field("date_reponse", "Réponse du partenaire le"),
    _date_field("date_realisation", "Réalisation déclarée le"),
    _date_field("date_verification", "Réalisation vérifiée le"),
    _date_field("prochaine_echeance", "Prochaine échéance"),
    {
        "name": "en_retard",
        "type": "boolean",
        "title": "En retard",
        "description": "Une échéance ouverte est dépassée à la date de l'export.",
    },
]


def table_schema() -> dict[str, Any]:
    """The Table Schema of the CSV."""
    return {"fields": FIELDS, "primaryKey": ["identifiant"], "missingValues": [""]}


def datapackage(as_of: date) -> dict[str, Any]:
    """The Data Package descriptor: the CSV (beside it, same folder or URL) and its schema."""
    return {
        "name": RESOURCE,
        "title": "Engagements de la ville et demandes à ses partenaires",
        "description": "Suivi des plans d'action : demandes aux partenaires et engagements de la ville, état au "
        f"{as_of.strftime('%d/%m/%Y')}. Aucune donnée personnelle.",
        "resources": [
            {
                "name": RESOURCE,
                "path": CSV_NAME,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": ",", "header": True},
                "schema": table_schema(),
            }
        ],
    }


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


async def open_data_csv(
    session: AsyncSession, principal: Principal, clock: Clock, plan_id: uuid.UUID | None = None
) -> bytes:
    """The items the caller may see, public fields only, as the descriptor describes them."""
    today = paris_today(clock)
    rows = await repository.export_items(session, reports.visible_to(principal), plan_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([field["name"] for field in FIELDS])
    for row in rows:
        progress = item_progress(row.status, row.progress_percent)
        writer.writerow(
            _value(value)
            for value in (
                row.id,
                row.commune,
                row.plan_title,
                numbered(row.axis_number, row.axis_title),
                numbered(row.objective_letter, row.objective_title),
                row.title,
                label(KIND_LABELS, row.kind),
                label(STATUS_LABELS, row.status),
                row.lead_partner_name,
                progress,
                row.created_on,
                row.requested_on,
                row.answered_on,
                row.delivered_on,
                row.verified_on,
                row.next_due_on,
                row.next_due_on is not None and row.next_due_on < today,
            )
        )
    return buffer.getvalue().encode("utf-8")
