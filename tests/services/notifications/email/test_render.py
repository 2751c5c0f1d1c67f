"""French reminder emails: forms of address, the plan's wording, French dates, working days, threading, escaping."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from markupsafe import escape

from services.notifications.email import wording
from services.notifications.email.render import render_digest, render_failure_report, render_reminder
from shared.calendar import WorkingCalendar, default_calendar
from tests.services.notifications.email.sample_reminders import (
    DUE_ON,
    ITEM_ID,
    LIAISON_ID,
    LINKS,
    PLAN_TEXT,
    context,
    event,
)

CALENDAR = default_calendar()
ROOT = f"<item-{ITEM_ID}@sceaux.example>"


def _reminder(kind: str, offset: int, today: date, escalation: str = "none", **item: object):  # type: ignore[no-untyped-def]
    ctx = context(**item)
    return render_reminder(
        event(kind, offset, escalation),
        ctx,
        ctx.recipients[0],
        today,
        CALENDAR,
        LINKS,
        f"<reminder-{uuid.uuid4()}@sceaux.example>",
        "sceaux.example",
    )


def test_approaching_reminder_in_formal_french() -> None:
    # Monday 18 May 2026 → Thursday 21 May: 19, 20, 21 = 3 working days.
    mail = _reminder("approaching", -3, date(2026, 5, 18))
    assert mail.subject == (
        "Rappel : Rénovation du centre commercial des Blagis — réponse attendue dans 3 jours ouvrés"
    )
    text = mail.text
    assert "Hauts-de-Seine Habitat\nÀ l'attention de Mme Dupont, directrice de la gestion locative\n" in text
    assert "\nMadame,\n" in text and "Madame, Monsieur" not in text
    assert f"« {PLAN_TEXT} »" in text  # the plan's wording, verbatim
    assert "Échéance : réponse attendue, le jeudi 21 mai 2026 (dans 3 jours ouvrés)" in text
    assert "au plus tard le jeudi 21 mai 2026, soit dans 3 jours ouvrés." in text
    assert (
        "Cette demande vous a été adressée par courrier du lundi 2 mars 2026 (réf. SCX/DGS/2026-041)." in text
    )
    assert "Nous vous prions d'agréer, Madame, l'expression de nos salutations distinguées." in text
    assert "parce que vous êtes la correspondante de Hauts-de-Seine Habitat pour cette demande" in text
    assert "récapitulatif hebdomadaire" in text  # how to change the preference
    for url in LINKS.values():
        assert url in text and f'href="{url}"' in mail.html
    assert "Accuser réception" in text and "Proposer une nouvelle date" in text


def test_working_days_skip_public_holidays() -> None:
    # Wednesday 13 May 2026 → Thursday 21 May: Ascension (14 May) is not counted, so 5 working days, not 6.
    mail = _reminder("approaching", -5, date(2026, 5, 13))
    assert "dans 5 jours ouvrés" in mail.subject


def test_due_and_overdue_subjects_are_distinct() -> None:
    due = _reminder("due", 0, DUE_ON)
    assert (
        due.subject == "Échéance aujourd'hui : Rénovation du centre commercial des Blagis — réponse attendue"
    )
    assert "tombe aujourd'hui, jeudi 21 mai 2026." in due.text
    # Six working days after Thursday 21 May: 22, 26 (25 is Whit Monday), 27, 28, 29 May, 1 June.
    overdue = _reminder("overdue", 6, date(2026, 6, 1))
    assert overdue.subject == (
        "Relance : Rénovation du centre commercial des Blagis — réponse en retard de 6 jours ouvrés"
    )
    assert "fixée au jeudi 21 mai 2026, est dépassée de 6 jours ouvrés." in overdue.text
    assert "copie" not in overdue.text.split("--")[0]
    assert len({due.subject, overdue.subject, _reminder("approaching", -3, date(2026, 5, 18)).subject}) == 3


def test_escalation_notes() -> None:
    late = _reminder("escalated", 10, date(2026, 6, 5), escalation="late")
    assert late.subject.startswith("Relance urgente : ")
    assert "en retard de" in late.subject
    assert (
        "également adressé à la hiérarchie du correspondant de Hauts-de-Seine Habitat et au responsable du "
        "dossier à la Ville" in late.text
    )
    very_late = _reminder("escalated", 20, date(2026, 6, 19), escalation="very_late")
    assert very_late.subject.startswith("Relance urgente (élu informé) : ")
    assert "à l'élu en charge du dossier" in very_late.text


def test_unknown_civility_and_no_title() -> None:
    ctx = context()
    person = ctx.recipients[0].model_copy(update={"civility": None, "title": None})
    mail = render_reminder(
        event("due", 0), ctx, person, DUE_ON, CALENDAR, LINKS, "<a@sceaux.example>", "sceaux.example"
    )
    assert "\nMadame, Monsieur,\n" in mail.text
    assert "À l'attention de Claire Dupont\n" in mail.text
    assert "agréer, Madame, Monsieur, l'expression" in mail.text
    assert "vous êtes le correspondant ou la correspondante de Hauts-de-Seine Habitat" in mail.text


def test_milestone_with_label_and_original_wording() -> None:
    data = context().model_dump(mode="json")
    data["deadline"].update(
        kind="milestone", label="Dépôt du permis de construire", original_wording="dès 2026"
    )
    ctx = type(context()).model_validate(data)
    mail = render_reminder(
        event("approaching", -3, deadline_kind="milestone"),
        ctx,
        ctx.recipients[0],
        date(2026, 5, 18),
        CALENDAR,
        LINKS,
        "<m@sceaux.example>",
        "sceaux.example",
    )
    assert "jalon « Dépôt du permis de construire » attendu dans 3 jours ouvrés" in mail.subject
    assert "Échéance : jalon « Dépôt du permis de construire », le jeudi 21 mai 2026" in mail.text
    assert "Formulation du plan : « dès 2026 »" in mail.text


def test_threading_headers_are_per_item() -> None:
    first = _reminder("approaching", -3, date(2026, 5, 18))
    second = _reminder("overdue", 1, date(2026, 5, 22))
    assert first.message_id != second.message_id
    assert first.in_reply_to == first.references == ROOT
    assert second.in_reply_to == second.references == ROOT


def test_html_is_escaped_and_text_is_not() -> None:
    title = 'Centre <script>alert("x")</script> & <b>Blagis</b>'
    mail = _reminder("due", 0, DUE_ON, title=title, plan_text="<img src=x onerror=alert(1)> & co")
    assert "<script>" not in mail.html and "<img" not in mail.html and "<b>Blagis" not in mail.html
    assert str(escape(title)) in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in mail.html
    # The plain-text part shows what people wrote, as written.
    assert title in mail.text and "<img src=x onerror=alert(1)> & co" in mail.text


def test_title_with_line_breaks_stays_on_one_subject_line() -> None:
    mail = _reminder("due", 0, DUE_ON, title="Centre\r\nBcc: pirate@evil.example\x00")
    assert "\r" not in mail.subject and "\n" not in mail.subject and "\x00" not in mail.subject
    assert "Bcc: pirate@evil.example" in mail.subject  # kept as text, on the same line


def test_digest_lists_items_soonest_first_with_their_links() -> None:
    first = context()
    other_id = uuid.uuid4()
    second = context(id=str(other_id), title="Maison France services")
    later = event("approaching", -10, due_on=date(2026, 6, 4))
    later = later.model_copy(update={"item_id": other_id})
    links_b = {key: url.replace("-token", "-token-b") for key, url in LINKS.items()}
    mail = render_digest(
        [(later, second), (event("approaching", -3), first)],
        first.recipients[0],
        date(2026, 5, 18),
        CALENDAR,
        {ITEM_ID: LINKS, other_id: links_b},
        "<d@sceaux.example>",
        "sceaux.example",
    )
    assert mail.subject == "Récapitulatif hebdomadaire : 2 échéances à venir (semaine du lundi 18 mai 2026)"
    assert mail.text.index("Rénovation du centre commercial") < mail.text.index("Maison France services")
    assert "jeudi 4 juin 2026" in mail.text and "jeudi 21 mai 2026" in mail.text
    assert LINKS["done"] in mail.text and links_b["done"] in mail.text
    assert mail.in_reply_to == mail.references == f"<digest-{LIAISON_ID}@sceaux.example>"
    with pytest.raises(ValueError):
        render_digest([], first.recipients[0], date(2026, 5, 18), CALENDAR, {}, "<d@x.example>", "x.example")


def test_failure_report_to_the_city_owner() -> None:
    ctx = context()
    mail = render_failure_report(
        ctx,
        ctx.recipients[0],
        "550 5.1.1 <claire.dupont@hsh.example>: boîte inconnue\r\n",
        date(2026, 5, 18),
        "<f@sceaux.example>",
        "sceaux.example",
    )
    assert mail.subject.startswith(
        "Échec d'envoi : rappel non distribué à Mme Dupont (Hauts-de-Seine Habitat)"
    )
    assert "\nMonsieur,\n" in mail.text  # the owner's own civility
    assert "550 5.1.1 <claire.dupont@hsh.example>: boîte inconnue" in mail.text
    assert "&lt;claire.dupont@hsh.example&gt;" in mail.html
    assert "lundi 18 mai 2026" in mail.text
    assert mail.in_reply_to == ROOT


def test_wording_helpers() -> None:
    assert wording.working_days(1) == "1 jour ouvré"
    assert wording.title_in_sentence("DGS adjoint") == "DGS adjoint"
    assert wording.title_in_sentence("Directrice territoriale") == "directrice territoriale"
    calendar = WorkingCalendar()
    # Friday due date, seen on the Saturday after: past, but not a working day late yet.
    assert wording.timing(calendar, date(2026, 5, 23), date(2026, 5, 22)).startswith(
        "échue depuis le vendredi"
    )
    assert wording.shorten("mot " * 100, 20).endswith("…")
