"""Domain errors carry their HTTP status; one set of handlers renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.validation_messages import french_message

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose; subclasses fix status and code."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Requête invalide"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Introuvable"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflit"


class ForbiddenTransition(Conflict):
    code, title = "forbidden-transition", "Transition interdite"


class PreconditionFailed(DomainError):
    status, code, title = 412, "stale-version", "Version périmée"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentification requise"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Action non autorisée"


class InvalidInput(DomainError):
    status, code, title = 422, "invalid-input", "Données invalides"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "Corps de requête trop volumineux"


class ServiceUnavailable(DomainError):
    """A service this one depends on (another service, the database) cannot answer right now."""

    status, code, title = 503, "service-unavailable", "Service momentanément indisponible"


def problem_response(
    status: int, code: str, title: str, detail: str, instance: str | None = None, **extensions: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:engagements:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors as the API shows them: where (`loc`), what in French (`msg`), and the error `type`."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": french_message(error),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


def _where(loc: list[str]) -> str:
    return ".".join(loc) or "requête"


# Errors Starlette and FastAPI raise themselves, with English details: told in French by status.
_HTTP_ERRORS: dict[int, tuple[str, str, str]] = {
    400: (
        "unreadable-body",
        "Corps de requête illisible",
        "body : le corps de la requête est illisible (JSON en UTF-8 valide attendu, sans imbrication excessive).",
    ),
    401: ("unauthorized", "Authentification requise", "Clé d'API manquante ou invalide."),
    403: ("forbidden", "Action non autorisée", "Action non autorisée."),
    404: ("not-found", "Introuvable", "Aucune ressource à cette adresse."),
    405: ("method-not-allowed", "Méthode non autorisée", "Cette méthode n'est pas permise à cette adresse."),
    406: (
        "not-acceptable",
        "Format non disponible",
        "Le format demandé (en-tête Accept) n'est pas disponible.",
    ),
    413: (
        "payload-too-large",
        "Corps de requête trop volumineux",
        "Le corps de la requête est trop volumineux.",
    ),
    415: ("unsupported-media-type", "Format de corps non pris en charge", "Corps JSON attendu."),
}


def install_problem_handlers(app: FastAPI) -> None:
    """Render domain errors, validation errors, HTTP errors and crashes as problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, request.url.path, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        broken_json = next((error for error in raw if error.get("type") == "json_invalid"), None)
        if broken_json is not None:
            # The body is not JSON at all: a 400, like any body that can't be read; 422 is for JSON that is
            # read but not accepted.
            position = next((part for part in broken_json.get("loc", ())[1:] if isinstance(part, int)), None)
            where = f" (caractère {position})" if position is not None else ""
            return problem_response(
                400,
                "invalid-json",
                "JSON invalide",
                f"body : le corps de la requête n'est pas un JSON valide{where}.",
                request.url.path,
            )
        errors = _jsonable_errors(raw)
        summary = "; ".join(f"{_where(error['loc'])} : {error['msg']}" for error in errors[:5])
        if len(errors) > 5:
            summary += f" (et {len(errors) - 5} autre(s))"
        return problem_response(
            422,
            "validation-error",
            "Données invalides",
            summary or "Requête invalide.",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title, detail = _HTTP_ERRORS.get(
            exc.status_code,
            ("http-error", "Erreur HTTP", f"La requête n'a pas abouti (HTTP {exc.status_code})."),
        )
        response = problem_response(exc.status_code, code, title, detail, request.url.path)
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500, "internal-error", "Erreur interne", "Une erreur interne est survenue.", request.url.path
        )
