"""How another service's answers become this service's domain errors (pure logic on httpx responses; the calls
themselves, retries and timeouts, are tested over real HTTP in tests/services/notifications/
test_commitments_client.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.problems import Conflict, DomainError, Forbidden, NotFound, PreconditionFailed, ServiceUnavailable
from shared.service_client import ServiceClient, retry_after_seconds

REQUEST = httpx.Request("POST", "http://commitments.test/v1/items/1/transitions")


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers, request=REQUEST)
    return httpx.Response(status, json=body, headers=headers, request=REQUEST)


@pytest.fixture
async def service() -> AsyncIterator[ServiceClient]:
    client = ServiceClient("http://commitments.test", "Le service des engagements")
    yield client
    await client.aclose()


async def test_a_refusal_keeps_the_problems_detail_code_and_extensions(service: ServiceClient) -> None:
    error = service.refusal(
        answer(
            403,
            {
                "type": "urn:engagements:problem:forbidden",
                "title": "Action non autorisée",
                "status": 403,
                "detail": "Seul le partenaire sollicité peut accuser réception.",
                "code": "forbidden",
                "instance": "/v1/items/1/transitions",
                "action": "acknowledge",
            },
        )
    )
    assert isinstance(error, Forbidden)
    assert (error.status, error.code, error.detail) == (
        403,
        "forbidden",
        "Seul le partenaire sollicité peut accuser réception.",
    )
    assert error.extensions == {"action": "acknowledge"}


@pytest.mark.parametrize(("status", "kind"), [(404, NotFound), (409, Conflict), (412, PreconditionFailed)])
async def test_each_refusal_is_the_error_of_its_status(
    service: ServiceClient, status: int, kind: type[DomainError]
) -> None:
    error = service.refusal(
        answer(status, {"detail": "Refusé.", "code": "some-code", "allowed_transitions": ["accepted"]})
    )
    assert type(error) is kind and error.status == status and error.detail == "Refusé."
    assert error.code == "some-code" and error.extensions == {"allowed_transitions": ["accepted"]}


async def test_a_refusal_without_a_problem_still_says_something_in_french(service: ServiceClient) -> None:
    error = service.refusal(httpx.Response(400, text="<html>bad</html>", request=REQUEST))
    assert (error.status, error.detail) == (400, "Le service des engagements a refusé la demande (HTTP 400).")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_a_server_error_or_a_busy_service_is_unavailable(service: ServiceClient, status: int) -> None:
    error = service.refusal(answer(status, {"detail": "Trop de requêtes en cours.", "code": "overloaded"}))
    assert isinstance(error, ServiceUnavailable) and error.status == 503
    assert error.detail.startswith(
        f"Le service des engagements est momentanément indisponible (HTTP {status})"
    )


def test_retry_after_is_read_in_seconds_only() -> None:
    assert retry_after_seconds(answer(503, headers={"Retry-After": "1"})) == 1.0
    assert retry_after_seconds(answer(503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})) is None
    assert retry_after_seconds(answer(503)) is None
