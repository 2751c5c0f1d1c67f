"""French reminder emails: plain text and HTML from the same view, threaded per item.

The sender asks the commitments service for the event's recipients (ReminderContext) and calls one render
function per mail; build_message (message.py) then makes the message. Rendering is pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeAlias
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifications.email import wording
from services.notifications.recipients import Recipient, ReminderContext
from shared.calendar import WorkingCalendar, format_date_fr
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue

DeadlineReminder: TypeAlias = DeadlineApproaching | DeadlineDue | DeadlineOverdue | DeadlineEscalated

# Fixed order of the action links in a mail, with their French wording.
ACTION_LABELS = {
    "acknowledge": "Accuser réception",
    "done": "Signaler que c'est fait",
    "new_date": "Proposer une nouvelle date",
    "not_for_me": "Ce n'est pas pour moi : transmettre à un collègue",
}
ACTION_HINTS = {
    "acknowledge": "confirme que vous avez bien reçu la demande",
    "done": "avec un commentaire et, si vous le souhaitez, le lien vers un justificatif",
    "new_date": "avec le motif du report ; la Ville l'acceptera ou non",
    "not_for_me": "indiquez la personne à qui écrire désormais pour cette demande",
}

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # Templates ship with the code: no stat() of every template file on every mail to see if it changed.
    auto_reload=False,
)
# Text templates never escape (they are not HTML); every other template does.
_text_environment = _environment.overlay(autoescape=False)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None
    references: str | None


def thread_root_id(item_id: UUID, domain: str) -> str:
    """The stable Message-ID every mail about one item replies to, so a mail client threads them together."""
    return f"<item-{item_id}@{domain}>"


def digest_root_id(contact_id: UUID, domain: str) -> str:
    """The root that one contact's weekly digests reply to (a digest is about several items)."""
    return f"<digest-{contact_id}@{domain}>"


@dataclass(frozen=True)
class _Link:
    key: str
    label: str
    hint: str
    url: str


def _links(action_links: dict[str, str]) -> list[_Link]:
    return [
        _Link(key, label, ACTION_HINTS[key], action_links[key])
        for key, label in ACTION_LABELS.items()
        if action_links.get(key)
    ]


def _is_request(context: ReminderContext) -> bool:
    return context.item.kind == "request"


def _item_noun(context: ReminderContext) -> str:
    return "la demande" if _is_request(context) else "l'engagement"


def _due_on(event: DeadlineReminder, context: ReminderContext) -> date:
    # The event's date is the one this reminder is about; the context may be a renegotiated version, but
    # then the event is stale and the sender cancels it before rendering (sender.stale_reason).
    return event.due_on


def _deadline_label(context: ReminderContext) -> str | None:
    return context.deadline.label if context.deadline is not None else None


def _subject_prefix(event: DeadlineReminder, today: date, due_on: date) -> str:
    if isinstance(event, DeadlineApproaching):
        return "Rappel"
    if isinstance(event, DeadlineDue):
        return "Échéance aujourd'hui" if today == due_on else "Échéance"
    if isinstance(event, DeadlineEscalated) or event.escalation != "none":
        return "Relance urgente (élu informé)" if event.escalation == "very_late" else "Relance urgente"
    return "Relance"


def reminder_subject(
    event: DeadlineReminder, context: ReminderContext, today: date, calendar: WorkingCalendar
) -> str:
    """« Rappel : <titre> — réponse attendue dans 3 jours ouvrés », « Relance : … en retard de 6 jours ouvrés »."""
    due_on = _due_on(event, context)
    label = _deadline_label(context)
    prefix = _subject_prefix(event, today, due_on)
    title = wording.shorten(context.item.title)
    when = wording.timing(calendar, today, due_on)
    if isinstance(event, DeadlineDue) and today == due_on:
        return wording.one_line(f"{prefix} : {title} — {wording.kind_expected(event.kind, label)}")
    if today < due_on or today == due_on:
        return wording.one_line(f"{prefix} : {title} — {wording.kind_expected(event.kind, label)} {when}")
    return wording.one_line(f"{prefix} : {title} — {wording.kind_noun(event.kind, label)} {when}")


def _opening(
    event: DeadlineReminder, context: ReminderContext, today: date, calendar: WorkingCalendar
) -> str:
    due_on = _due_on(event, context)
    label = _deadline_label(context)
    noun = _item_noun(context)
    date_fr = format_date_fr(due_on)
    city = wording.city(context.item.commune)
    if today < due_on:
        left = calendar.working_days_between(today, due_on)
        counted = f", soit dans {wording.working_days(left)}" if left > 0 else ""
        if _is_request(context):
            return (
                f"Nous nous permettons de vous rappeler que la {city} attend "
                f"{wording.what_is_expected(event.kind, label)} pour {noun} ci-dessous au plus tard le "
                f"{date_fr}{counted}."
            )
        return f"L'échéance de {noun} ci-dessous est fixée au {date_fr}{counted}."
    if today == due_on:
        return f"L'échéance de {noun} ci-dessous tombe aujourd'hui, {date_fr}."
    late = calendar.working_days_between(due_on, today)
    by = f" de {wording.working_days(late)}" if late > 0 else ""
    opening = (
        f"Sauf erreur de notre part, l'échéance de {noun} ci-dessous, fixée au {date_fr}, est dépassée{by}."
    )
    if _is_request(context):
        expected = wording.what_is_expected(event.kind, label)
        opening += (
            f" Nous vous remercions de bien vouloir nous faire part de {expected} dans les meilleurs délais."
        )
    return opening


def _escalation_note(event: DeadlineReminder, context: ReminderContext) -> str | None:
    partner = context.item.lead_partner_name
    of_partner = f" de {partner}" if partner and _is_request(context) else ""
    if event.escalation == "late":
        return (
            f"Compte tenu de ce retard, ce message est également adressé à la hiérarchie du correspondant"
            f"{of_partner} et au responsable du dossier à la Ville."
        )
    if event.escalation == "very_late":
        return (
            f"Compte tenu de l'importance de ce retard, ce message est également adressé à l'élu en charge du "
            f"dossier, ainsi qu'à la hiérarchie du correspondant{of_partner} et au responsable du dossier à "
            f"la Ville."
        )
    return None


def _reason(recipient: Recipient, context: ReminderContext) -> str:
    civility = recipient.civility
    partner = recipient.partner_name or "votre organisation"
    noun = "cette demande" if _is_request(context) else "cet engagement"
    match str(recipient.audience):
        case "liaison":
            return (
                f"parce que vous êtes {wording.feminine(civility, 'le correspondant', 'la correspondante')} de "
                f"{partner} pour {noun}"
            )
        case "deputy":
            return (
                f"en tant que {wording.feminine(civility, 'suppléant', 'suppléante')} du correspondant de "
                f"{partner} pour {noun}"
            )
        case "hierarchy":
            return (
                f"en copie, en tant que responsable hiérarchique du correspondant de {partner}, l'échéance "
                "étant dépassée"
            )
        case "city_owner":
            return f"en tant que responsable de {noun} à la {wording.city(context.item.commune)}"
        case "elected":
            return f"en tant qu'{wording.feminine(civility, 'élu', 'élue')} en charge de {noun}"
    return f"au sujet de {noun}"


def _recipient_view(recipient: Recipient) -> SimpleNamespace:
    # Attributes, not a dict: Jinja's `recipient.salutation` tries getattr first, and a miss raises.
    return SimpleNamespace(
        partner_name=recipient.partner_name,
        attention=wording.attention_line(
            recipient.civility, recipient.first_name, recipient.last_name, recipient.title
        ),
        salutation=wording.salutation(recipient.civility),
        closing=wording.closing(recipient.civility),
    )


def _item_view(
    context: ReminderContext,
    event: DeadlineReminder,
    today: date,
    calendar: WorkingCalendar,
    action_links: dict[str, str],
) -> SimpleNamespace:
    item = context.item
    due_on = _due_on(event, context)
    label = _deadline_label(context)
    wording_in_plan = context.deadline.original_wording if context.deadline is not None else None
    return SimpleNamespace(
        title=item.title,
        kind_noun="Demande" if _is_request(context) else "Engagement de la Ville",
        plan_text=item.plan_text,
        plan_title=item.plan_title,
        city=wording.city(item.commune),
        axis_title=item.axis_title,
        objective_title=item.objective_title,
        partner_name=item.lead_partner_name,
        deadline_kind=wording.kind_label(event.kind, label),
        due_on=format_date_fr(due_on),
        original_wording=wording_in_plan,
        timing=wording.timing(calendar, today, due_on),
        letter=(
            wording.letter_sentence("Cette demande", item.sent_on, item.letter_reference)
            if _is_request(context)
            else None
        ),
        links=_links(action_links),
    )


def _render(template: str, **values: Any) -> tuple[str, str]:
    """The plain-text and HTML bodies of `template` (both compiled once, then kept by Jinja)."""
    return (
        _text_environment.get_template(f"{template}.txt.j2").render(**values),
        _environment.get_template(f"{template}.html.j2").render(**values),
    )


def render_reminder(
    event: DeadlineReminder,
    context: ReminderContext,
    recipient: Recipient,
    today: date,
    calendar: WorkingCalendar,
    action_links: dict[str, str],
    message_id: str,
    domain: str,
) -> RenderedEmail:
    """One reminder about one deadline to one recipient, threaded with every other mail about the item."""
    subject = reminder_subject(event, context, today, calendar)
    text, html = _render(
        "reminder",
        subject=subject,
        recipient=_recipient_view(recipient),
        opening=_opening(event, context, today, calendar),
        item=_item_view(context, event, today, calendar, action_links),
        escalation=_escalation_note(event, context),
        reason=_reason(recipient, context),
        digest_hint=isinstance(event, DeadlineApproaching),
        signature=_signature(context),
    )
    root = thread_root_id(context.item.id, domain)
    return RenderedEmail(subject, text, html, message_id, in_reply_to=root, references=root)


def render_digest(
    entries: Sequence[tuple[DeadlineReminder, ReminderContext]],
    recipient: Recipient,
    today: date,
    calendar: WorkingCalendar,
    action_links_per_item: dict[UUID, dict[str, str]],
    message_id: str,
    domain: str,
) -> RenderedEmail:
    """The weekly digest of approaching deadlines for one contact, soonest first."""
    if not entries:
        raise ValueError("un récapitulatif sans échéance ne s'envoie pas")
    ordered = sorted(entries, key=lambda entry: (_due_on(*entry), entry[1].item.title))
    items = [
        _item_view(context, event, today, calendar, action_links_per_item.get(context.item.id, {}))
        for event, context in ordered
    ]
    count = len(items)
    subject = wording.one_line(
        f"Récapitulatif hebdomadaire : {count} échéance{'s' if count > 1 else ''} à venir "
        f"(semaine du {format_date_fr(today)})"
    )
    communes = {context.item.commune for _, context in ordered}
    commune = communes.pop() if len(communes) == 1 else None
    signature = _signature(ordered[0][1]) if commune else "Le service de suivi des engagements"
    text, html = _render(
        "digest",
        subject=subject,
        recipient=_recipient_view(recipient),
        items=items,
        city=wording.city(commune),
        signature=signature,
    )
    root = digest_root_id(recipient.contact_id, domain)
    return RenderedEmail(subject, text, html, message_id, in_reply_to=root, references=root)


def render_failure_report(
    context: ReminderContext,
    failed_recipient: Recipient,
    smtp_reply: str,
    today: date,
    message_id: str,
    domain: str,
) -> RenderedEmail:
    """Tell the item's owner at the city that a reminder to a partner contact could not be delivered."""
    owner = next(
        (
            r
            for r in context.recipients
            if context.item.owner_contact_id is not None and r.contact_id == context.item.owner_contact_id
        ),
        None,
    )
    failed_name = (
        wording.person_name(
            failed_recipient.civility, failed_recipient.first_name, failed_recipient.last_name
        )
        or failed_recipient.email
    )
    subject = wording.one_line(
        f"Échec d'envoi : rappel non distribué à {wording.shorten(failed_name, 60)} "
        f"({wording.shorten(failed_recipient.partner_name or '?', 60)}) — {wording.shorten(context.item.title, 80)}"
    )
    text, html = _render(
        "failure",
        subject=subject,
        salutation=wording.salutation(owner.civility if owner else None),
        closing=wording.closing(owner.civility if owner else None),
        failed_name=failed_name,
        failed_title=failed_recipient.title,
        failed_partner=failed_recipient.partner_name,
        failed_email=failed_recipient.email,
        smtp_reply=wording.one_line(smtp_reply).strip() or "(réponse vide)",
        today=format_date_fr(today),
        item_title=context.item.title,
        item_noun=_item_noun(context),
        plan_title=context.item.plan_title,
        signature=_signature(context),
    )
    root = thread_root_id(context.item.id, domain)
    return RenderedEmail(subject, text, html, message_id, in_reply_to=root, references=root)


def _signature(context: ReminderContext) -> str:
    return f"{wording.city(context.item.commune)} — suivi du plan d'action « {context.item.plan_title} »"
