"""What the reports answer (JSON field names in English; exports and pages put French labels on them)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from services.reporting.statuses import WaitingOn


class Period(BaseModel):
    start: date = Field(description="Premier jour de la période (inclus).")
    end: date = Field(description="Dernier jour de la période (inclus).")


class LateCount(BaseModel):
    """Late requests now, attributed to the party each one waits on."""

    total: int
    waiting_on_partner: int = Field(description="En retard du fait du partenaire (réponse, livraison).")
    waiting_on_city: int = Field(
        description="En retard du fait de la ville (courrier non envoyé, livraison non vérifiée …)."
    )


class PartnerScorecardRead(BaseModel):
    """A partner's figures over a period: the steps its requests reached within the period (each counted on
    the date it was reached), its response delays, what is late now, and its reminders."""

    partner_id: uuid.UUID
    partner_name: str
    period: Period
    as_of: date = Field(description="Jour (Europe/Paris) auquel les retards sont comptés.")
    requested: int = Field(description="Demandes envoyées au partenaire dans la période.")
    acknowledged: int = Field(description="Accusés de réception dans la période.")
    answered: int = Field(description="Réponses (acceptée, partiellement acceptée, refusée) dans la période.")
    answered_within_deadline: int = Field(
        description="Réponses arrivées au plus tard à l'échéance de réponse en vigueur ce jour-là."
    )
    answered_within_deadline_percent: float | None = Field(
        description="Part des réponses de la période qui avaient une échéance et l'ont tenue (en %, une "
        "décimale) ; null sans réponse à échéance."
    )
    median_response_working_days: float | None = Field(
        description="Délai médian entre l'envoi et la réponse, en jours ouvrés (médiane usuelle)."
    )
    p90_response_working_days: int | None = Field(
        description="90e centile du délai de réponse en jours ouvrés (rang le plus proche : le délai que 90 % "
        "des réponses n'ont pas dépassé)."
    )
    delivered: int = Field(description="Réalisations déclarées dans la période.")
    verified: int = Field(description="Réalisations vérifiées par la ville dans la période.")
    overdue_now: LateCount = Field(description="Demandes dont une échéance ouverte est dépassée aujourd'hui.")
    very_overdue_now: LateCount = Field(
        description="Parmi elles, celles en retard d'au moins le seuil de « très en retard » (jours ouvrés)."
    )
    reminders_sent: int = Field(description="Relances parvenues à au moins une personne du partenaire.")
    reminders_unreached: int = Field(
        description="Relances parvenues à personne : chaque envoi refusé ou revenu (adresses à corriger)."
    )


class LateItemRead(BaseModel):
    item_id: uuid.UUID
    title: str
    kind: str
    status: str
    plan_id: uuid.UUID
    objective_id: uuid.UUID
    lead_partner_id: uuid.UUID | None
    waiting_on: WaitingOn = Field(description="Qui doit agir : le partenaire, ou la ville.")
    due_on: date = Field(description="La plus ancienne échéance ouverte dépassée.")
    working_days_late: int


class StatusCount(BaseModel):
    status: str
    items: int


class ProgressRead(BaseModel):
    items: int = Field(description="Éléments comptés (abandonnés compris).")
    progress_percent: float | None = Field(
        description="Avancement moyen des éléments, hors abandonnés et refusés ; null sans élément."
    )
    by_status: list[StatusCount]
    late: int


class ObjectiveProgressRead(ProgressRead):
    objective_id: uuid.UUID
    letter: str
    title: str


class AxisProgressRead(ProgressRead):
    axis_id: uuid.UUID
    number: str
    title: str
    objectives: list[ObjectiveProgressRead]


class PlanProgressRead(ProgressRead):
    plan_id: uuid.UUID
    title: str
    commune: str
    as_of: date
    axes: list[AxisProgressRead]
    late_items: list[LateItemRead]


class DeadlineReportRead(BaseModel):
    deadline_id: uuid.UUID
    item_id: uuid.UUID
    item_title: str
    item_status: str
    plan_id: uuid.UUID
    lead_partner_id: uuid.UUID | None
    waiting_on: WaitingOn
    kind: str
    original_due_on: date = Field(description="Première date fixée.")
    due_on: date = Field(description="Date en vigueur.")
    met_on: date | None
    slippage_working_days: int = Field(
        description="Glissement de la date en vigueur sur la première, en jours ouvrés (négatif : avancée)."
    )
    working_days_late: int = Field(
        description="Jours ouvrés de retard aujourd'hui (0 si la date n'est pas passée)."
    )


class DeadlinesReportRead(BaseModel):
    as_of: date
    upcoming: list[DeadlineReportRead] = Field(
        description="Échéances ouvertes à venir dans la fenêtre, la plus proche d'abord."
    )
    overdue: list[DeadlineReportRead] = Field(
        description="Échéances ouvertes dépassées, la plus ancienne d'abord."
    )


class SlippageRead(BaseModel):
    deadlines: list[DeadlineReportRead] = Field(
        description="Échéances déplacées, le plus fort glissement d'abord."
    )
    total_slippage_working_days: int


class TimelineEntryRead(BaseModel):
    event_id: uuid.UUID
    occurred_at: datetime
    on: date | None = Field(
        description="Date dite de l'étape (Europe/Paris), quand l'événement en porte une."
    )
    type: str
    details: dict[str, Any]


class TimelineRead(BaseModel):
    item_id: uuid.UUID
    title: str
    status: str
    entries: list[TimelineEntryRead]
