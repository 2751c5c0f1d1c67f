"""The event catalogue (docs/events.md, docs/asyncapi.json) matches the event models, and no event carries a
field that looks like personal data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.events import EventEnvelope, event_types
from shared.events.catalogue import (
    REPOSITORY_ROOT,
    asyncapi_document,
    generated_files,
    main,
    markdown_page,
    payload_schema,
    subject_for,
    write_files,
)

# Words naming personal data when part of a field name (`email`, `contact_email`, `first_name`, `comments`).
PERSONAL_DATA_WORDS = {"name", "email", "mail", "phone", "telephone", "text", "comment"}

# The only exceptions, each with its reason: a partner is an organisation, and its name is public.
ALLOWED_FIELDS = {
    ("partner.created", "name"): "a partner is an organisation, not a person",
    ("partner.updated", "name"): "a partner is an organisation, not a person",
}


def looks_personal(field: str) -> bool:
    return any(word.removesuffix("s") in PERSONAL_DATA_WORDS for word in field.lower().split("_"))


def field_names(schema: Any) -> Iterator[str]:
    """Every property name in a JSON schema, nested models and array items included."""
    if isinstance(schema, dict):
        for name, value in schema.get("properties", {}).items():
            yield name
            yield from field_names(value)
        for key, value in schema.items():
            if key != "properties":
                yield from field_names(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from field_names(value)


def test_committed_catalogue_is_what_the_code_generates() -> None:
    for relative, text in generated_files().items():
        path = REPOSITORY_ROOT / relative
        assert path.exists(), f"{relative} is missing: run python -m shared.events.catalogue"
        assert path.read_text(encoding="utf-8") == text, (
            f"{relative} is stale: run python -m shared.events.catalogue"
        )
    assert main(["--check"]) == 0


def test_writer_produces_the_generated_files(tmp_path: Path) -> None:
    assert sorted(write_files(tmp_path)) == sorted(generated_files())
    for relative, text in generated_files().items():
        assert (tmp_path / relative).read_text(encoding="utf-8") == text
    assert write_files(tmp_path) == []  # nothing changed: nothing rewritten


@pytest.mark.parametrize(
    "field",
    [
        "name",
        "first_name",
        "last_name",
        "email",
        "contact_email",
        "phone",
        "text",
        "comment",
        "comments",
        "author_name",
    ],
)
def test_personal_data_detector_flags(field: str) -> None:
    assert looks_personal(field)


@pytest.mark.parametrize(
    "field", ["partner_id", "title", "status", "kind", "role", "commune", "changed", "tags"]
)
def test_personal_data_detector_passes(field: str) -> None:
    assert not looks_personal(field)


def test_no_event_carries_a_field_that_looks_like_personal_data() -> None:
    registry = event_types()
    assert registry, "no event type registered"
    flagged = {
        (event_type, name)
        for (event_type, _version), model in registry.items()
        for name in field_names(payload_schema(model))
        if looks_personal(name)
    }
    assert flagged - ALLOWED_FIELDS.keys() == set(), "personal data in events: publish ids instead"
    # Every exception is still needed: a stale entry would silently allow the field if a model reused it.
    assert flagged == ALLOWED_FIELDS.keys()
    envelope_fields = set(field_names(EventEnvelope.model_json_schema()))
    assert {name for name in envelope_fields if looks_personal(name)} == set()


def test_markdown_page_lists_every_event_with_subject_and_fields() -> None:
    page = markdown_page()
    for (event_type, version), model in event_types().items():
        heading = f"### {event_type} (v{version})"
        assert heading in page
        section = page.split(heading, 1)[1].split("\n### ", 1)[0]
        assert f"`{subject_for(event_type)}`" in section and model.summary in section
        for name in payload_schema(model)["properties"]:
            assert f"| `{name}` |" in section, f"{event_type}: field {name} not documented"


def test_asyncapi_document_describes_every_event_and_its_references_resolve() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0" and document["defaultContentType"] == "application/json"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {subject_for(event_type) for event_type, _ in event_types()}
    messages = document["components"]["messages"]
    versions = {
        (message["name"], message["payload"]["allOf"][1]["properties"]["version"]["const"])
        for message in messages.values()
    }
    assert versions == set(event_types())
    for operation in document["operations"].values():
        assert operation["action"] == "send"
    component_key = re.compile(r"^[\w.\-]+$")  # the AsyncAPI 3.0 rule for component names
    for kind, entries in document["components"].items():
        assert all(component_key.match(key) for key in entries), kind
    for reference in _references(document):
        _resolve(document, reference)


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), f"external reference {reference}"
    node: Any = document
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved reference {reference}"
        node = node[part]
    return node
