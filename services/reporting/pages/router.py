"""The intranet page's routes (/tableau-de-bord): the overview, a partner's page, sign-in and sign-out.

HTML only, no script. Every page is sent with `Cache-Control: no-store` and a Content-Security-Policy that
allows only the app's own stylesheet; refusals are French pages (not problem+json) with the same status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.reporting.dependencies import ClockDep, SessionDep, SettingsDep, get_key_verifier
from services.reporting.pages import labels, views
from services.reporting.pages.proxy import proxy_user
from services.reporting.pages.sessions import PATH, PageSession, Sessions, token_matches
from services.reporting.reports import service
from shared.auth import Principal, Role
from shared.problems import DomainError, ServiceUnavailable, Unauthorized

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(labels=labels)
templates.env.filters.update(date_fr=labels.date_fr, number_fr=labels.number_fr)

router = APIRouter(prefix=PATH, include_in_schema=False)

SIGN_IN = f"{PATH}/connexion"
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
FORM_EXPIRED = "Le formulaire a expiré. Rechargez la page, puis recommencez."


def static_files() -> StaticFiles:
    """The page's stylesheet, served by the app itself (mounted at /tableau-de-bord/static)."""
    return StaticFiles(directory=HERE / "static")


@dataclass(frozen=True)
class Visitor:
    principal: Principal
    session: PageSession | None  # None: signed in by the intranet's proxy (no sign-out here)
    name: str | None = None


class _Refused(DomainError):
    """A refusal shown as a page (403)."""

    status, code, title = 403, "forbidden", "Accès refusé"


def _sessions(request: Request) -> Sessions:
    return request.app.state.page_sessions  # type: ignore[no-any-return]


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    visitor: Visitor | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, template, {"visitor": visitor, **context}, status_code=status, headers=HEADERS
    )


def _error(request: Request, error: DomainError, visitor: Visitor | None = None) -> HTMLResponse:
    return _render(
        request, "erreur.html", {"title": error.title, "detail": error.detail}, error.status, visitor
    )


async def _visitor(request: Request, session: SessionDep, settings: SettingsDep) -> Visitor | None:
    """Who is looking: the user named by the trusted proxy, or the session's principal; None: nobody yet.
    Refuses (403) a proxy user the configuration does not map, or whose partner is unknown."""
    user = proxy_user(request, settings)
    if user is not None:
        if user.role is None:
            raise _Refused(f"L'utilisateur « {user.name} » n'a pas accès au tableau de bord.")
        visible: frozenset[uuid.UUID] = frozenset()
        if user.partner_id is not None:
            organisation = await service.organisation_of(session, user.partner_id)
            if organisation is None:
                raise _Refused(f"Le partenaire de l'utilisateur « {user.name} » est inconnu.")
            visible = organisation
        return Visitor(
            Principal(role=user.role, partner_id=user.partner_id, visible_partner_ids=visible),
            None,
            user.name,
        )
    page_session = _sessions(request).read(request)
    if page_session is None or page_session.principal is None:
        return None
    return Visitor(page_session.principal, page_session)


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse(SIGN_IN, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    start: Annotated[date | None, Query(alias="du")] = None,
    end: Annotated[date | None, Query(alias="au")] = None,
) -> Response:
    """The overview: progress by axis, late items, upcoming deadlines, one section per partner."""
    try:
        visitor = await _visitor(request, session, settings)
        if visitor is None:
            return _to_sign_in()
        period = views.period(clock, start, end)
        page = await views.dashboard(
            session, visitor.principal, clock, period, settings.very_overdue_working_days
        )
    except DomainError as error:
        return _error(request, error)
    return _render(request, "tableau.html", {"page": page}, visitor=visitor)


@router.get("/partenaires/{partner_id}", response_class=HTMLResponse)
async def partner(
    partner_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    start: Annotated[date | None, Query(alias="du")] = None,
    end: Annotated[date | None, Query(alias="au")] = None,
) -> Response:
    """A partner's page (404 for a partner the visitor may not see)."""
    visitor = None
    try:
        visitor = await _visitor(request, session, settings)
        if visitor is None:
            return _to_sign_in()
        period = views.period(clock, start, end)
        section = await views.partner_page(
            session, visitor.principal, clock, partner_id, period, settings.very_overdue_working_days
        )
    except DomainError as error:
        return _error(request, error, visitor)
    return _render(request, "partenaire.html", {"section": section, "period": period}, visitor=visitor)


@router.get("/connexion", response_class=HTMLResponse)
async def sign_in_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The sign-in form (the signed-in go straight to the overview)."""
    try:
        visitor = await _visitor(request, session, settings)
    except DomainError as error:
        return _error(request, error)
    if visitor is not None:
        return RedirectResponse(f"{PATH}/", status_code=303, headers={"Cache-Control": "no-store"})
    return _form(request, _sessions(request).read(request))


def _form(
    request: Request, page_session: PageSession | None, error: str | None = None, status: int = 200
) -> HTMLResponse:
    """The form, with the CSRF token of the visitor's session (a new session if it has none)."""
    sessions = _sessions(request)
    fresh = page_session is None
    page_session = page_session or sessions.new(None)
    response = _render(request, "connexion.html", {"error": error, "csrf": page_session.csrf}, status)
    if fresh:
        sessions.save(request, response, page_session)
    return response


async def _form_fields(request: Request) -> dict[str, str]:
    """The fields of an application/x-www-form-urlencoded body (a field given twice: its first value)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


@router.post("/connexion", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    """Check the key once with the commitments service, then keep a session holding its id, role and partner."""
    sessions = _sessions(request)
    page_session = sessions.read(request)
    fields = await _form_fields(request)
    if not token_matches(page_session, fields.get("csrf")):
        return _form(request, None, FORM_EXPIRED, 403)
    assert page_session is not None
    secret = fields.get("cle", "").strip()
    if not secret:
        return _form(request, page_session, "Saisissez votre clé d'API.", 400)
    try:
        principal = await get_key_verifier(request).verify(secret)
    except Unauthorized:
        return _form(request, page_session, "Cette clé est inconnue ou a été révoquée.", 401)
    except ServiceUnavailable:
        return _form(
            request,
            page_session,
            "La clé ne peut pas être vérifiée pour le moment (service des "
            "engagements indisponible). Réessayez dans quelques instants.",
            503,
        )
    if principal.role is Role.SERVICE:
        return _form(
            request, page_session, "Une clé de service ne permet pas de se connecter au tableau de bord.", 403
        )
    response = RedirectResponse(f"{PATH}/", status_code=303, headers={"Cache-Control": "no-store"})
    sessions.save(request, response, sessions.new(principal))  # a new session: a new token
    return response


@router.post("/deconnexion")
async def sign_out(request: Request) -> Response:
    """End the session (the form's token must be the session's)."""
    sessions = _sessions(request)
    page_session = sessions.read(request)
    fields = await _form_fields(request)
    if page_session is None or page_session.principal is None:
        return _to_sign_in()
    if not token_matches(page_session, fields.get("csrf")):
        return _error(request, _Refused(FORM_EXPIRED))
    response = _to_sign_in()
    sessions.clear(request, response)
    return response
