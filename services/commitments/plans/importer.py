"""Import a plan from its text: a new plan, or an existing plan completed; each bullet becomes an item.

A plan's identity is explicit. Without a plan named, an import creates a new plan; a text is known by its
fingerprint (SHA-256 of the text with its layout normalised), and a text already imported is refused (409)
with the plan it belongs to, so that two different plans never merge. Naming a plan completes it: the same
text again changes nothing; an amended text adds the bullets the plan does not hold yet (matched by their
text), and a new bullet whose reference ("I.A.3") is taken gets the next free one, flagged. The directory
gains only the partners the plan names that it did not know (docs/plan-import.md, docs/directory.md).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.deadlines.schemas import DeadlineCreate
from services.commitments.deadlines.service import add_deadline
from services.commitments.items import service as items_service
from services.commitments.items.lifecycle import ItemKind
from services.commitments.items.schemas import ItemCreate
from services.commitments.outbox.recorder import record_event
from services.commitments.plans import repository
from services.commitments.plans import service as plans_service
from services.commitments.plans.models import Axis, Objective, Plan, PlanImport
from services.commitments.plans.party_resolution import PlanParties
from services.commitments.plans.plan_text import (
    ParsedItem,
    ParsedPlan,
    PlanTextError,
    ReviewFlag,
    parse_plan_text,
)
from services.commitments.plans.schemas import PlanCreate
from shared.auth import Principal
from shared.clock import Clock, paris_today
from shared.events.commitments import AxisCreated, ObjectiveCreated
from shared.problems import Conflict, InvalidInput

REFERENCE_CHANGED = "reference-changed"
REQUEST_WITHOUT_PARTNER = "request-without-partner"
DATE_NOT_UNDERSTOOD = "date-not-understood"  # also one of the reader's codes


class PlanAlreadyImported(Conflict):
    code, title = "plan-already-imported", "Texte déjà importé"


@dataclass
class FlaggedItem:
    reference: str
    flags: list[ReviewFlag]


@dataclass
class ImportReport:
    plan_id: uuid.UUID
    created_plan: bool
    axes: int  # in the text
    objectives: int
    items: int
    created_items: int = 0
    unchanged_items: int = 0  # bullets the plan already held
    created_partners: list[str] = field(default_factory=list)
    flagged: list[FlaggedItem] = field(default_factory=list)  # the items created that need review


_LAYOUT_SPACE = re.compile(r"\s+")
_LOOKALIKES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def text_fingerprint(text: str) -> str:
    """SHA-256 of the text, blind to what a PDF extraction varies: line ends, blank lines, runs of spaces,
    Unicode composition. A changed word gives another fingerprint."""
    lines = (" ".join(line.split()) for line in unicodedata.normalize("NFC", text).splitlines())
    return hashlib.sha256("\n".join(line for line in lines if line).encode()).hexdigest()


def _bullet_key(text: str) -> str:
    """What makes two bullets the same bullet: their words, whatever the case, quotes and spacing."""
    folded = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES).casefold()
    return _LAYOUT_SPACE.sub(" ", folded).strip(" .;")


@dataclass
class _References:
    """The references ("I.A.3") taken in the plan, and the next free one under an objective."""

    taken: set[str]

    def free(self, wanted: str) -> str:
        if wanted not in self.taken:
            self.taken.add(wanted)
            return wanted
        prefix = wanted.rsplit(".", 1)[0]
        used = [
            int(number)
            for key in self.taken
            if key.startswith(prefix + ".")
            if (number := key[len(prefix) + 1 :]).isdigit()
        ]
        reference = f"{prefix}.{max(used, default=0) + 1}"
        self.taken.add(reference)
        return reference


async def _target_plan(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    fingerprint: str,
    parsed_title: str,
    plan_id: uuid.UUID | None,
    commune: str | None,
    territory: str | None,
    title: str | None,
    adopted_on: date | None,
) -> tuple[Plan, bool]:
    """The plan to complete (named), or a new one; refuses a text that belongs to another plan."""
    imported = await repository.import_of(session, fingerprint)
    if plan_id is not None:
        if commune is not None or territory is not None or title is not None:
            raise InvalidInput(
                "commune, territory et title ne s'indiquent que pour un nouveau plan : le plan "
                "complété garde les siens."
            )
        plan = await repository.get(session, plan_id)
        if plan is None:
            raise InvalidInput("plan_id ne désigne aucun plan.")
        if imported is not None and imported.plan_id != plan.id:
            raise PlanAlreadyImported(
                f"Ce texte a déjà été importé dans un autre plan ({imported.plan_id}) : un texte appartient à "
                "un seul plan.",
                plan_id=str(imported.plan_id),
            )
        return plan, False
    if imported is not None:
        raise _already_imported(imported.plan_id)
    if commune is None:
        raise InvalidInput(
            "commune : obligatoire pour un nouveau plan (ou indiquer plan_id pour compléter un "
            "plan existant)."
        )
    default_title = parsed_title.capitalize()
    try:
        data = PlanCreate(
            title=title or (f"{default_title} — {territory}" if territory else default_title)[:300],
            commune=commune,
            territory=territory,
            adopted_on=adopted_on,
        )
    except ValidationError as exc:  # the command line passes them unchecked
        field = exc.errors()[0]["loc"][0]
        raise InvalidInput(
            f"{field} : valeur invalide (une seule ligne, sans caractère de contrôle, 200 caractères "
            "au plus)."
        ) from exc
    return await plans_service.create_plan(session, actor, clock, data), True


def _already_imported(plan_id: uuid.UUID) -> PlanAlreadyImported:
    return PlanAlreadyImported(
        f"Ce texte a déjà été importé (plan {plan_id}). Pour compléter ce plan, indiquer son identifiant (plan_id, "
        "ou --plan en ligne de commande) ; pour un autre plan, importer son propre texte.",
        plan_id=str(plan_id),
    )


async def _record_import(session: AsyncSession, plan: Plan, fingerprint: str, clock: Clock) -> None:
    """Remember the text; a concurrent import of the same text loses here (the fingerprint is unique)."""
    try:
        async with session.begin_nested():
            session.add(PlanImport(plan_id=plan.id, text_sha256=fingerprint, imported_at=clock.now()))
    except IntegrityError as exc:
        winner = await repository.import_of(session, fingerprint)  # committed by the other transaction
        raise _already_imported(winner.plan_id if winner else plan.id) from exc


async def import_plan_text(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    text: str,
    *,
    plan_id: uuid.UUID | None = None,
    commune: str | None = None,
    territory: str | None = None,
    title: str | None = None,
    adopted_on: date | None = None,
    tags: Sequence[str] = (),
) -> ImportReport:
    """Create the plan written in `text` (or complete the plan `plan_id`); returns what was created and what
    needs review. Dates like "dans les six mois" count from `adopted_on`, else the plan's, else today."""
    reference_date = adopted_on
    if reference_date is None and plan_id is not None and (named := await repository.get(session, plan_id)):
        reference_date = named.adopted_on
    try:
        parsed = parse_plan_text(text, reference_date or paris_today(clock))
    except PlanTextError as exc:
        raise InvalidInput(f"Texte de plan illisible : {exc}") from exc
    return await import_parsed_plan(
        session,
        actor,
        clock,
        parsed,
        text_fingerprint(text),
        plan_id=plan_id,
        commune=commune,
        territory=territory,
        title=title,
        adopted_on=adopted_on,
        tags=tags,
    )


async def import_parsed_plan(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    parsed: ParsedPlan,
    fingerprint: str,
    *,
    plan_id: uuid.UUID | None = None,
    commune: str | None = None,
    territory: str | None = None,
    title: str | None = None,
    adopted_on: date | None = None,
    tags: Sequence[str] = (),
) -> ImportReport:
    """Import a plan as the reader gave it, the text being known by `fingerprint` (see import_plan_text)."""
    plan, created_plan = await _target_plan(
        session, actor, clock, fingerprint, parsed.title, plan_id, commune, territory, title, adopted_on
    )
    report = ImportReport(
        plan_id=plan.id,
        created_plan=created_plan,
        axes=len(parsed.axes),
        objectives=sum(len(a.objectives) for a in parsed.axes),
        items=sum(len(o.items) for a in parsed.axes for o in a.objectives),
    )
    if await repository.import_of(session, fingerprint) is not None:  # this very text, into this plan: done
        report.unchanged_items = report.items
        return report
    await _record_import(session, plan, fingerprint, clock)
    await _add_missing(session, actor, clock, plan, parsed, tags, report)
    return report


async def _add_missing(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    plan: Plan,
    parsed: ParsedPlan,
    tags: Sequence[str],
    report: ImportReport,
) -> None:
    """Create the axes, objectives and items of `parsed` that the plan does not hold yet."""
    axes = {a.number: a for a in await repository.axes_of(session, plan.id)}
    objectives = {(o.axis_id, o.letter): o for o in await repository.objectives_of(session, plan.id)}
    existing = await repository.imported_items(session, plan.id)
    held = Counter(_bullet_key(text) for _, text in existing)
    references = _References({key for key, _ in existing if key})
    parties = PlanParties(session, actor, clock, plan)
    for parsed_axis in parsed.axes:
        axis = axes.get(parsed_axis.number)
        if axis is None:
            axis = Axis(
                plan_id=plan.id, number=parsed_axis.number, title=parsed_axis.title, position=len(axes) + 1
            )
            session.add(axis)
            await session.flush()
            axes[axis.number] = axis
            record_event(
                session,
                AxisCreated(
                    axis_id=axis.id,
                    plan_id=plan.id,
                    number=axis.number,
                    title=axis.title,
                    position=axis.position,
                ),
                actor,
                clock,
            )
        for parsed_objective in parsed_axis.objectives:
            objective = objectives.get((axis.id, parsed_objective.letter))
            if objective is None:
                objective = Objective(
                    plan_id=plan.id,
                    axis_id=axis.id,
                    letter=parsed_objective.letter,
                    title=parsed_objective.title,
                    context=parsed_objective.context,
                    position=len(objectives) + 1,
                )
                session.add(objective)
                await session.flush()
                objectives[axis.id, objective.letter] = objective
                record_event(
                    session,
                    ObjectiveCreated(
                        objective_id=objective.id,
                        axis_id=axis.id,
                        plan_id=plan.id,
                        letter=objective.letter,
                        title=objective.title,
                        position=objective.position,
                    ),
                    actor,
                    clock,
                )
            for parsed_item in parsed_objective.items:
                key = _bullet_key(parsed_item.text)
                if held[key] > 0:
                    held[key] -= 1
                    report.unchanged_items += 1
                    continue
                await _create_item(
                    session, actor, clock, objective, parsed_item, references, parties, tags, report
                )
    report.created_partners = parties.created_names()


async def _create_item(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    objective: Objective,
    parsed: ParsedItem,
    references: _References,
    parties: PlanParties,
    tags: Sequence[str],
    report: ImportReport,
) -> None:
    flags = list(parsed.flags)
    reference = references.free(parsed.source_key)
    if reference != parsed.source_key:
        flags.append(
            ReviewFlag(
                REFERENCE_CHANGED,
                (
                    f"La référence {parsed.source_key} est déjà prise dans ce plan par une autre puce : cette puce devient "
                    f"{reference}. Vérifier si elle remplace l'élément {parsed.source_key}."
                ),
            )
        )
    lead = None
    if parsed.lead_partner is not None:
        lead, found = await parties.resolve(parsed.lead_partner, lead=True)
        flags += found
    associated: list[uuid.UUID] = []
    for party in parsed.associated_partners:
        partner, found = await parties.resolve(party, lead=False)
        if partner.id != (lead.id if lead else None) and partner.id not in associated:
            associated.append(partner.id)
            flags += [flag for flag in found if flag not in flags]
    kind = ItemKind(parsed.kind)
    if kind is ItemKind.REQUEST and lead is None:
        # Never dropped: kept as a city commitment until a person names the partner asked.
        kind = ItemKind.COMMITMENT
        flags.append(
            ReviewFlag(
                REQUEST_WITHOUT_PARTNER,
                (
                    "Demande dont le partenaire sollicité n'a pas été trouvé : enregistrée comme engagement de la Ville ; "
                    "indiquer le partenaire et en faire une demande."
                ),
            )
        )
    deadline = None
    if parsed.target is not None:
        try:
            deadline = DeadlineCreate(
                kind="delivery", due_on=parsed.target.on, original_wording=parsed.target.wording[:300]
            )
        except ValidationError:
            flags.append(
                ReviewFlag(
                    DATE_NOT_UNDERSTOOD,
                    (
                        f"Échéance « {parsed.target.wording} » lue comme le {parsed.target.on:%d/%m/%Y}, hors des dates "
                        "admises : aucune échéance enregistrée ; la saisir à la main."
                    ),
                )
            )
    item = await items_service.create_item(
        session,
        actor,
        clock,
        ItemCreate(
            objective_id=objective.id,
            kind=kind,
            title=parsed.title,
            plan_text=parsed.text,
            lead_partner_id=lead.id if lead else None,
            associated_partner_ids=associated,
            tags=list(tags),
        ),
        source_key=reference,
        needs_review=bool(flags),
        review_reason="\n".join(flag.message for flag in flags) or None,
        review_flags=[{"code": flag.code, "message": flag.message} for flag in flags],
    )
    if deadline is not None:
        await add_deadline(session, actor, clock, item, deadline)
    if flags:
        report.flagged.append(FlaggedItem(reference, flags))
    report.created_items += 1
