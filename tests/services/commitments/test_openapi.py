"""The API documentation lists every endpoint with an example of what to send and what comes back."""

from __future__ import annotations

from typing import Any

from services.commitments.app import create_app
from services.commitments.config import CommitmentsSettings


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("examples") or schema.get("example") is not None:
        return True
    if schema.get("type") == "array" and "items" in schema:
        return _has_example(schema["items"], components)
    return False


def test_every_operation_is_documented_with_examples(tmp_path):
    spec = create_app(CommitmentsSettings(database_url=f"sqlite:///{tmp_path}/x.db")).openapi()
    components = spec["components"]["schemas"]
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            if not operation.get("summary") or not operation.get("description"):
                missing.append(f"{name}: no summary/description")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and not _has_example(body["schema"], components):
                missing.append(f"{name}: request body without example")
            ok = next((r for code, r in operation["responses"].items() if code.startswith("2")), None)
            content = (ok or {}).get("content", {}).get("application/json")
            if content is not None and not (
                content.get("example")
                or content.get("examples")
                or _has_example(content["schema"], components)
            ):
                missing.append(f"{name}: response without example")
    assert not missing, "\n".join(missing)
    assert len(spec["paths"]) >= 25
