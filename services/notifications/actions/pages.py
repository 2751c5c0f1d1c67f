"""The small French HTML pages behind action links: a form, a result, an error — never cached, never indexed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.notifications.actions.links import ActionLink
from services.notifications.actions.service import Outcome
from shared.calendar import format_date_fr
from shared.clock import PARIS
from shared.problems import DomainError

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

HEADINGS = {
    "acknowledge": "Accuser réception de la demande",
    "done": "Signaler que c'est fait",
    "new_date": "Proposer une nouvelle date",
    "not_for_me": "Ce n'est pas pour moi : transmettre à un collègue",
}

_HEADERS = {
    # The token is in the URL: never stored by a proxy, never sent to an evidence site as a Referer.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _page(template: str, status: int, **values: Any) -> HTMLResponse:
    html = _environment.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def form_page(
    link: ActionLink,
    item: dict[str, Any] | None,
    today: date,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    """The form of the link's purpose (a confirm button for an acknowledgement); 422 when re-shown with errors."""
    due = item.get("next_due_on") if item else None
    shown_item = None
    if item is not None:
        shown_item = {
            "title": item.get("title", ""),
            "status_label": item.get("status_label", item.get("status", "")),
            "next_due_on": format_date_fr(date.fromisoformat(due)) if due else None,
        }
    return _page(
        "form.html.j2",
        422 if errors else 200,
        heading=HEADINGS[link.purpose.value],
        purpose=link.purpose.value,
        item=shown_item,
        values=values or {},
        errors=errors or {},
        tomorrow=(today + timedelta(days=1)).isoformat(),
        expires_on=format_date_fr(link.expires_at.astimezone(PARIS).date()),
    )


def result_page(outcome: Outcome) -> HTMLResponse:
    return _page("result.html.j2", 200, heading=outcome.title, outcome=outcome)


def error_page(error: DomainError) -> HTMLResponse:
    return _page("error.html.j2", error.status, heading=error.title, detail=error.detail, code=error.code)
