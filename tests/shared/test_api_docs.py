"""The API documentation of both services works offline (Swagger UI and ReDoc assets served by the process
itself), and every operation documents its error responses as problem+json."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fastapi import FastAPI

from services.commitments.app import create_app as create_commitments_app
from services.commitments.config import CommitmentsSettings
from services.notifications.app import create_app as create_notifications_app
from services.notifications.config import NotificationsSettings
from shared.problems import PROBLEM_JSON


def _commitments(tmp_path: Path) -> FastAPI:
    return create_commitments_app(
        CommitmentsSettings(database_url=f"sqlite:///{tmp_path}/c.db", data_dir=tmp_path)
    )


def _notifications(tmp_path: Path) -> FastAPI:
    return create_notifications_app(
        NotificationsSettings(
            notifications_database_url=f"sqlite:///{tmp_path}/n.db", data_dir=tmp_path, action_link_secret="s"
        )
    )


APPS: dict[str, Callable[[Path], FastAPI]] = {"commitments": _commitments, "notifications": _notifications}
CONTENT_TYPES = {
    ".js": ("application/javascript", "text/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


# ----------------------------------------------------------------------------------------------- offline docs


@pytest.mark.parametrize("service", list(APPS))
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(service: str, page: str, tmp_path: Path) -> None:
    app = APPS[service](tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intranet"
    ) as client:
        response = await client.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        html = response.text
        outside = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", html, re.IGNORECASE)
        assert not outside, f"{page} points outside the process: {outside}"
        assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert any(asset.endswith(".js") for asset in assets), assets
        if page == "/docs":
            assert any(asset.endswith(".css") for asset in assets), assets
            spec_url = re.search(r"""url:\s*['"]([^'"]+)['"]""", html)
        else:
            spec_url = re.search(r"""spec-url=["']([^"']+)["']""", html)
        assert spec_url is not None and spec_url.group(1) == "/openapi.json"
        for asset in [*assets, spec_url.group(1)]:
            loaded = await client.get(urljoin(page, asset))
            assert loaded.status_code == 200, asset
            expected = CONTENT_TYPES.get(Path(asset).suffix, ("application/json",))
            assert loaded.headers["content-type"].split(";")[0] in expected, (
                asset,
                loaded.headers["content-type"],
            )
            assert len(loaded.content) > 100, asset


async def test_swagger_ui_sends_nothing_to_an_online_validator(tmp_path: Path) -> None:
    app = _commitments(tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intranet"
    ) as client:
        html = (await client.get("/docs")).text
    assert re.search(r'"validatorUrl":\s*null', html), html


# ------------------------------------------------------------------------------------- problems in the OpenAPI


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


@pytest.mark.parametrize("service", list(APPS))
def test_every_error_response_is_documented_as_a_problem(service: str, tmp_path: Path) -> None:
    spec = APPS[service](tmp_path).openapi()
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    wrong = []
    for method, path, operation in _operations(spec):
        name = f"{method.upper()} {path}"
        errors = {code: response for code, response in operation["responses"].items() if code[0] in "45"}
        if "503" not in errors:
            wrong.append(f"{name}: 503 undocumented")
        for code, response in errors.items():
            content = response.get("content", {})
            if list(content) != [PROBLEM_JSON]:
                wrong.append(f"{name} {code}: {list(content)} instead of {PROBLEM_JSON}")
                continue
            example = content[PROBLEM_JSON].get("example", {})
            if content[PROBLEM_JSON]["schema"] != {"$ref": "#/components/schemas/Problem"}:
                wrong.append(f"{name} {code}: not the Problem schema")
            if example.get("status") != int(code) or not example.get("detail"):
                wrong.append(f"{name} {code}: example {example}")
        if path.startswith("/v1/") and (
            operation.get("security") != [{"cleApi": []}] or not {"401", "403"} <= set(errors)
        ):
            wrong.append(f"{name}: authentication undocumented")
        if any(p["in"] == "path" for p in operation.get("parameters", [])) and "404" not in errors:
            wrong.append(f"{name}: 404 undocumented")
        if "requestBody" in operation and not {"400", "413", "422"} <= set(errors):
            wrong.append(f"{name}: body errors undocumented")
        if (
            any(p["name"].lower() == "if-match" for p in operation.get("parameters", []))
            and "412" not in errors
        ):
            wrong.append(f"{name}: 412 undocumented")
    assert not wrong, "\n".join(wrong)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["cleApi"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["cleApi"]["description"],
    }


def test_an_example_a_route_gives_for_its_own_status_is_kept(tmp_path: Path) -> None:
    spec = _notifications(tmp_path).openapi()
    not_found = spec["paths"]["/v1/deliveries/{delivery_id}"]["get"]["responses"]["404"]
    assert not_found["content"][PROBLEM_JSON]["example"]["detail"] == "Envoi introuvable."
