"""Domain errors carry their HTTP status; one set of handlers renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    body: dict[str, Any] = {"type": f"urn:engagements:problem:{code}", "title": title, "status": status,
                            "detail": detail, "code": code}
    if instance:
        body["instance"] = instance
    body.update(extensions)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for error in errors:
        cleaned.append({
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        })
    return cleaned


def install_problem_handlers(app: FastAPI) -> None:
    """Render domain errors, validation errors, HTTP errors and crashes as problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.title, exc.detail, request.url.path, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _jsonable_errors(exc.errors())
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem_response(422, "validation-error", "Données invalides", summary or "Requête invalide",
                                request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Erreur HTTP"
        code = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, code, detail, detail, request.url.path)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal-error", "Erreur interne", "Une erreur interne est survenue.",
                                request.url.path)
