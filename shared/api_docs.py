"""The API documentation, the same way in every service: Swagger UI and ReDoc served from a package (no CDN:
they work on an intranet), and every error response documented as problem+json in the OpenAPI.

Which errors an operation can answer is read from what the operation takes, in one place here, rather than
repeated on each route:

| status | documented on |
|---|---|
| 400 unreadable body, invalid cursor or Idempotency-Key | operations with a body, POSTs, operations with query parameters |
| 401, 403 | operations under `/v1/`, which all read the caller's key (`Authorization` header) |
| 404 | operations with path parameters, and authenticated ones (an object the caller may not see) |
| 409 | writes (POST, PUT, PATCH, DELETE) |
| 412 | operations taking `If-Match` |
| 413 | operations with a body, and every POST, PUT or PATCH |
| 422 | operations taking any input (parameters, body, the key's headers) |
| 503 | every operation (overload, a database or service that can't answer) |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from shared.problems import PROBLEM_JSON

SECURITY_SCHEME = "cleApi"
# Every operation under this prefix reads the caller's key; the others (health, docs) are open.
AUTHENTICATED_PREFIX = "/v1/"
WRITES = frozenset({"post", "put", "patch", "delete"})

_GENERIC: dict[int, tuple[str, str, str, str]] = {  # status -> (description, code, title, detail)
    400: (
        "Requête illisible : corps qui n'est pas du JSON, curseur ou Idempotency-Key invalide.",
        "invalid-json",
        "JSON invalide",
        "body : le corps de la requête n'est pas un JSON valide (caractère 12).",
    ),
    401: (
        "Clé d'API absente, inconnue ou révoquée.",
        "unauthorized",
        "Authentification requise",
        "Clé d'API manquante (en-tête Authorization: Bearer <clé>).",
    ),
    403: (
        "Le rôle de la clé ne permet pas cette action.",
        "forbidden",
        "Action non autorisée",
        "Action réservée aux rôles : admin, city.",
    ),
    404: ("Introuvable, ou hors du périmètre de la clé.", "not-found", "Introuvable", "Élément introuvable."),
    409: (
        "Conflit avec l'état actuel (transition interdite, doublon).",
        "conflict",
        "Conflit",
        "Transition interdite depuis l'état actuel.",
    ),
    412: (
        "If-Match ne correspond plus à la version actuelle.",
        "stale-version",
        "Version périmée",
        "L'élément a changé (version actuelle 4) ; rechargez-le.",
    ),
    413: (
        "Corps de requête trop volumineux.",
        "payload-too-large",
        "Corps de requête trop volumineux",
        "Le corps de la requête dépasse 262144 octets.",
    ),
    422: (
        "Données invalides (le détail nomme chaque champ).",
        "validation-error",
        "Données invalides",
        "body.title : doit contenir au plus 300 caractère(s)",
    ),
    503: (
        "Service momentanément indisponible ou surchargé : réessayez (Retry-After).",
        "service-unavailable",
        "Service momentanément indisponible",
        "Le service est surchargé ; réessayez dans une seconde.",
    ),
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "Erreur au format RFC 9457 ; `code` est stable, `detail` est rédigé en français.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:engagements:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string", "description": "Le chemin de la requête."},
        "errors": {
            "type": "array",
            "description": "Pour `validation-error` : une entrée par champ refusé.",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def create_api(**kwargs: Any) -> FastAPI:
    """A FastAPI application whose /docs and /redoc load their assets from this process, and whose OpenAPI
    documents every error response as problem+json."""
    # validatorUrl: Swagger UI would otherwise send the schema's address to an online validator.
    parameters = {"validatorUrl": None, **kwargs.pop("swagger_ui_parameters", {})}
    app = FastAPIOffline(swagger_ui_parameters=parameters, **kwargs)
    document_problems(app)
    return app


def document_problems(app: FastAPI) -> None:
    """Make `app.openapi()` document, on every operation, the problem+json responses it can give."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _add_problems(schema)
        return app.openapi_schema  # type: ignore[return-value]  # build() has just set it

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its schema


def _add_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "La clé d'API (`eng_…`) : `Authorization: Bearer <clé>` (ou l'en-tête `X-API-Key`).",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            authenticated = path.startswith(AUTHENTICATED_PREFIX)
            if authenticated:
                operation["security"] = [{SECURITY_SCHEME: []}]
            _document(operation, _statuses(method, operation, authenticated))
    _drop_fastapi_validation_schemas(schema)


def _statuses(method: str, operation: dict[str, Any], authenticated: bool) -> set[int]:
    parameters = operation.get("parameters", [])
    where = {parameter["in"] for parameter in parameters}
    headers = {parameter["name"].lower() for parameter in parameters if parameter["in"] == "header"}
    has_body = "requestBody" in operation
    statuses = {503}
    if authenticated:
        statuses |= {401, 403, 404, 422}
    if "path" in where:
        statuses |= {404, 422}
    if "query" in where or has_body or method == "post":
        statuses |= {400, 422}
    if has_body or method in ("post", "put", "patch"):
        statuses |= {413}
    if method in WRITES:
        statuses.add(409)
    if "if-match" in headers:
        statuses.add(412)
    if parameters or has_body:
        statuses.add(422)
    return statuses


def _document(operation: dict[str, Any], statuses: set[int]) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses | {int(code) for code in responses if code[0] in "45"}):
        generic = _GENERIC.get(status, ("Erreur.", "http-error", "Erreur", "La requête n'a pas abouti."))
        response = responses.setdefault(str(status), {"description": generic[0]})
        if response.get("description") in (None, "", "Validation Error", "Successful Response"):
            response["description"] = generic[0]
        known = response.get("content", {}).get(PROBLEM_JSON, {}).get("example")
        example = (
            known
            if isinstance(known, dict) and known.get("status") == status
            else {
                "type": f"urn:engagements:problem:{generic[1]}",
                "title": generic[2],
                "status": status,
                "detail": generic[3],
                "code": generic[1],
            }
        )
        response["content"] = {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}
        }


def _drop_fastapi_validation_schemas(schema: dict[str, Any]) -> None:
    # FastAPI's own 422 shape, replaced above by Problem: dropped unless something still points at it.
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        others = {key: value for key, value in schemas.items() if key != name}
        if f'#/components/schemas/{name}"' not in json.dumps([schema["paths"], others]):
            schemas.pop(name, None)
