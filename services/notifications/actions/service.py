"""What a signed link does once its page is submitted: record the action as the contact, exactly once.

Transactions here are short and explicit rather than one per request: between claiming a link and marking it
used, the commitments service is called over HTTP, and on SQLite a transaction holds the database's write lock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.actions import repository
from services.notifications.actions.links import ActionLink, InvalidLink, Purpose, verify
from services.notifications.actions.models import ActionLinkUse
from services.notifications.actions.schemas import DoneForm, NewDateForm, NotForMeForm
from services.notifications.commitments_client import ContactActions
from services.notifications.outbox.recorder import record_event
from shared.calendar import format_date_fr
from shared.clock import PARIS, Clock
from shared.events import Actor
from shared.events.notifications import ActionLinkUsed
from shared.problems import Conflict

# A claim older than this was left by a crash (or a very slow call): the link may be submitted again.
CLAIM_LEASE = timedelta(minutes=2)


class UsedLink(Conflict):
    code, title = "used-action-link", "Lien déjà utilisé"


class LinkBusy(Conflict):
    code, title = "action-link-busy", "Action en cours"


@dataclass(frozen=True)
class Outcome:
    """What the result page says."""

    title: str
    message: str
    details: tuple[str, ...] = ()


def _used(use: ActionLinkUse) -> UsedLink:
    when = use.used_at.astimezone(PARIS) if use.used_at else None
    on = f" le {format_date_fr(when.date())} à {when:%H:%M}" if when else ""
    done = f" ({use.outcome})" if use.outcome else ""
    return UsedLink(
        f"Ce lien a déjà été utilisé{on}{done}. Chaque lien ne sert qu'une fois ; le prochain rappel "
        f"en contiendra de nouveaux si nécessaire."
    )


async def open_link(session: AsyncSession, secret: str, token: str, now: datetime) -> ActionLink:
    """The verified link behind a token, refused when tampered with, expired or already used."""
    link = verify(secret, token, now)
    if link.purpose is Purpose.NEW_DATE and link.deadline_id is None:
        raise InvalidLink("Ce lien ne désigne aucune échéance.")
    use = await repository.get(session, link.token_id)
    if use is not None and use.used_at is not None:
        raise _used(use)
    return link


async def _claim(sessionmaker: async_sessionmaker[AsyncSession], link: ActionLink, now: datetime) -> datetime:
    async with sessionmaker() as session:
        try:
            async with session.begin():
                use = await repository.get(session, link.token_id, for_update=True)
                if use is None:
                    session.add(
                        ActionLinkUse(
                            token_id=link.token_id,
                            purpose=link.purpose.value,
                            item_id=link.item_id,
                            contact_id=link.contact_id,
                            claimed_at=now,
                        )
                    )
                elif use.used_at is not None:
                    raise _used(use)
                elif use.claimed_at > now - CLAIM_LEASE:
                    raise LinkBusy(
                        "Ce lien est en cours d'utilisation (un autre envoi du formulaire est en cours). "
                        "Patientez un instant puis rechargez la page."
                    )
                else:
                    use.claimed_at = now
        except IntegrityError:
            # Another submission inserted the same token id between our read and our insert.
            raise LinkBusy(
                "Ce lien est en cours d'utilisation. Patientez un instant puis rechargez la page."
            ) from None
    return now


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession], link: ActionLink, claimed_at: datetime
) -> None:
    async with sessionmaker() as session, session.begin():
        await repository.release_claim(session, link.token_id, claimed_at)


async def _complete(
    sessionmaker: async_sessionmaker[AsyncSession], link: ActionLink, clock: Clock, outcome: Outcome
) -> None:
    """Mark the link used and write its `action_link.used` event, in one transaction."""
    now = clock.now()
    async with sessionmaker() as session, session.begin():
        use = await repository.get(session, link.token_id, for_update=True)
        if use is None:  # the claim was released meanwhile: record the use anyway, it happened
            use = ActionLinkUse(
                token_id=link.token_id,
                purpose=link.purpose.value,
                item_id=link.item_id,
                contact_id=link.contact_id,
                claimed_at=now,
            )
            session.add(use)
        elif use.used_at is not None:
            return  # used meanwhile by another submission, which told it
        use.used_at = now
        use.outcome = outcome.title[:500]
        partner_id = await repository.contact_partner(session, link.item_id, link.contact_id)
        record_event(
            session,
            ActionLinkUsed(
                item_id=link.item_id,
                deadline_id=link.deadline_id,
                partner_id=partner_id,
                contact_id=link.contact_id,
                action=link.purpose.value,
            ),
            clock,
            Actor(kind="contact", id=str(link.contact_id)),
        )


def _idempotency_key(link: ActionLink, step: str, body: Any) -> str:
    # Same link, same step, same submitted values → same key: the commitments service replays its first answer.
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"action-link:{link.token_id}:{step}:{digest}"


async def _acknowledge(actions: ContactActions, link: ActionLink) -> Outcome:
    item = await actions.transition(link.item_id, "acknowledged", _idempotency_key(link, "ack", {}))
    return Outcome(
        "Accusé de réception enregistré",
        f"Merci. La Ville sait désormais que vous avez bien reçu la demande « {item['title']} ».",
    )


async def _report_done(actions: ContactActions, link: ActionLink, form: DoneForm) -> Outcome:
    values = form.model_dump()
    await actions.add_progress(
        link.item_id, form.comment, form.evidence_url, _idempotency_key(link, "journal", values)
    )
    item = await actions.item(link.item_id)
    if "delivered" in item.get("allowed_transitions", []):
        # No comment on the transition: the commitments service would journal it a second time.
        item = await actions.transition(
            link.item_id, "delivered", _idempotency_key(link, "delivered", values)
        )
        return Outcome(
            "Réalisation déclarée",
            f"Merci. Votre compte rendu est enregistré et la demande « {item['title']} » est "
            f"déclarée réalisée ; la Ville le vérifiera.",
        )
    status = item.get("status_label") or item.get("status")
    return Outcome(
        "Compte rendu enregistré",
        f"Merci. Votre compte rendu est enregistré dans le suivi de la demande « {item['title']} ».",
        (
            (
                f"La demande n'a pas été déclarée réalisée : dans son état actuel (« {status} »), la Ville "
                "doit d'abord enregistrer votre réponse. Elle en est informée par votre compte rendu."
            ),
        ),
    )


async def _propose_date(actions: ContactActions, link: ActionLink, form: NewDateForm) -> Outcome:
    assert link.deadline_id is not None  # open_link refuses a « new date » link without a deadline
    await actions.propose_date(
        link.deadline_id,
        form.proposed_due_on,
        form.reason,
        _idempotency_key(link, "proposal", form.model_dump()),
    )
    return Outcome(
        "Nouvelle date proposée",
        f"Merci. Votre proposition de nouvelle date, le {format_date_fr(form.proposed_due_on)}, est "
        "transmise à la Ville, qui l'acceptera ou non. D'ici là, l'échéance actuelle reste en vigueur.",
    )


async def _designate(actions: ContactActions, link: ActionLink, form: NotForMeForm) -> Outcome:
    person = form.model_dump(exclude_none=True)
    answer = await actions.designate(link.item_id, person, _idempotency_key(link, "designate", person))
    contact = answer.get("contact", {})
    name = " ".join(part for part in (contact.get("first_name"), contact.get("last_name")) if part)
    return Outcome(
        "Demande transmise",
        f"Merci. {name} est désormais le contact de votre organisation pour cette demande : les "
        f"prochains rappels lui seront adressés, à {contact.get('email')}.",
    )


async def _act(actions: ContactActions, link: ActionLink, form: BaseModel) -> Outcome:
    if link.purpose is Purpose.ACKNOWLEDGE:
        return await _acknowledge(actions, link)
    if link.purpose is Purpose.DONE and isinstance(form, DoneForm):
        return await _report_done(actions, link, form)
    if link.purpose is Purpose.NEW_DATE and isinstance(form, NewDateForm):
        return await _propose_date(actions, link, form)
    if link.purpose is Purpose.NOT_FOR_ME and isinstance(form, NotForMeForm):
        return await _designate(actions, link, form)
    raise InvalidLink("Ce formulaire ne correspond pas à ce lien.")


def check_form(link: ActionLink, form: BaseModel, today: date) -> dict[str, str]:
    """Rules a form's fields can't state alone (a proposed date in the future); field → French message."""
    if isinstance(form, NewDateForm) and form.proposed_due_on <= today:
        return {"proposed_due_on": "Proposez une date postérieure à aujourd'hui."}
    return {}


async def perform(
    sessionmaker: async_sessionmaker[AsyncSession],
    actions: ContactActions,
    link: ActionLink,
    form: BaseModel,
    clock: Clock,
) -> Outcome:
    """Record the link's action in the commitments service as its contact, once; the link is then used up."""
    claimed_at = await _claim(sessionmaker, link, clock.now())
    try:
        outcome = await _act(actions, link, form)
    except BaseException:
        # Nothing was recorded (or the commitments service will replay it): the link stays usable.
        await _release(sessionmaker, link, claimed_at)
        raise
    await _complete(sessionmaker, link, clock, outcome)
    return outcome
