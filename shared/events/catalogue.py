"""The event catalogue, generated from the registered event types: an AsyncAPI 3.0 document (JSON) and a
Markdown page.

    python -m shared.events.catalogue            rewrite docs/events.md and docs/asyncapi.json
    python -m shared.events.catalogue --check    exit 1 when they differ from what the code generates

Both files are committed; a test regenerates them and compares, so the documentation cannot drift from the
models.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import ServiceSettings
from shared.events.envelope import EventData, EventEnvelope, event_types

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
MARKDOWN_PATH = Path("docs/events.md")
ASYNCAPI_PATH = Path("docs/asyncapi.json")
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

_SETTINGS = ServiceSettings.model_fields
DEFAULT_DUPLICATE_WINDOW_SECONDS: float = _SETTINGS["events_duplicate_window_seconds"].default


@dataclass(frozen=True)
class Publisher:
    """A service that publishes events, on its own stream under its own subject prefix (both settings)."""

    key: str  # EventData.publisher
    label: str  # "le service des engagements"
    heading: str
    stream_setting: str
    prefix_setting: str

    @property
    def stream(self) -> str:
        return str(_SETTINGS[self.stream_setting].default)

    @property
    def subject_prefix(self) -> str:
        return str(_SETTINGS[self.prefix_setting].default)


PUBLISHERS = {
    "commitments": Publisher(
        "commitments",
        "le service des engagements",
        "Service des engagements",
        "events_stream",
        "events_subject_prefix",
    ),
    "notifications": Publisher(
        "notifications",
        "le service des notifications",
        "Service des notifications",
        "notifications_events_stream",
        "notifications_events_subject_prefix",
    ),
}

_SCHEMA_REF = "#/components/schemas/{model}"

# What the envelope's fields mean (the model carries no descriptions; the page needs them).
ENVELOPE_FIELDS = {
    "id": (
        "Identifiant de l'événement, repris dans l'en-tête `Nats-Msg-Id` ; clé d'idempotence des "
        "consommateurs."
    ),
    "type": "Type de l'événement (dernier segment du sujet), p. ex. `item.created`.",
    "version": "Version du schéma de `data` pour ce type.",
    "occurred_at": "Instant du changement (UTC, ISO 8601).",
    "actor": (
        "Qui a causé le changement : clé d'API, contact agissant par lien signé, ou le système (ids "
        "seulement)."
    ),
    "data": "Contenu propre au type, décrit ci-dessous.",
}

# The page is in French; nested models' docstrings are in English like the rest of the code.
NESTED_DESCRIPTIONS = {
    "Actor": (
        "Qui a causé l'événement : une clé d'API (`api_key`, son id et son rôle), un contact agissant "
        "par un lien signé (`contact`, son id) ou le système (`system`, p. ex. le scanner "
        "d'échéances)."
    ),
}

# Header: (type, required, meaning).
HEADERS: dict[str, tuple[str, bool, str]] = {
    "Nats-Msg-Id": (
        "string (uuid)",
        True,
        (
            "L'`id` de l'enveloppe : JetStream écarte toute republication du même événement dans la "
            "fenêtre de déduplication (une relance du relais après une panne)."
        ),
    ),
    "traceparent": (
        "string",
        False,
        (
            "Contexte de trace W3C : la trace de la requête HTTP qui a causé l'événement se "
            "poursuit chez les consommateurs."
        ),
    ),
    "tracestate": ("string", False, "Complément W3C Trace Context, s'il y en a un."),
}

INTRODUCTION = (
    "Chaque service publie ses événements sur son propre flux JetStream, sous ses propres sujets "
    "(ci-dessous). Chaque événement est écrit dans la même transaction que le changement qu'il rapporte "
    "(outbox) ; le relais du service le publie ensuite avec `Nats-Msg-Id` = `id`, et JetStream écarte une "
    "republication pendant {window:g} h (réglage `EVENTS_DUPLICATE_WINDOW_SECONDS`). Les consommateurs sont "
    "idempotents par `id` et n'acquittent qu'après leur propre transaction."
)

PUBLISHER_INTRODUCTION = (
    "Flux JetStream `{stream}` (réglage `{stream_setting}`), sujets `{prefix}.<type>` (préfixe : réglage "
    "`{prefix_setting}`)."
)

NO_PERSONAL_DATA = (
    "**Aucune donnée personnelle** : des ids, des états, des dates, des codes et des intitulés publics (le "
    "nom d'un partenaire est celui d'une organisation). Noms, courriels, téléphones et textes écrits par des "
    "personnes restent dans le service des engagements ; les destinataires se résolvent auprès de lui au "
    "moment de l'envoi, si bien qu'effacer un contact l'efface partout. Le service des notifications ne "
    "publie ni adresse ni texte de courrier : le destinataire est un `contact_id`, la cause d'un échec un "
    "code stable."
)

ASYNCAPI_DESCRIPTION = (
    "Événements publiés par les services d'Engagements, chacun sur son flux JetStream : {streams}. Chaque "
    "événement est écrit dans la même transaction que le changement qu'il rapporte (outbox), puis publié par "
    "le relais du service avec `Nats-Msg-Id` = id de l'événement. Aucune donnée personnelle : des ids, des "
    "états, des dates, des codes et des intitulés publics ; les destinataires se résolvent auprès du service "
    "des engagements. Généré par `python -m shared.events.catalogue`."
)


def publisher_of(event_type: str) -> Publisher:
    """The service that publishes an event type."""
    for (registered, _version), model in event_types().items():
        if registered == event_type:
            return PUBLISHERS[model.publisher]
    raise KeyError(event_type)


def subject_for(event_type: str, subject_prefix: str | None = None) -> str:
    """The subject of an event type: under its publisher's default prefix unless another is given."""
    return f"{subject_prefix or publisher_of(event_type).subject_prefix}.{event_type}"


def _setting_name(field: str) -> str:
    return field.upper()


def payload_schema(model: type[EventData]) -> dict[str, Any]:
    """The JSON schema of an event type's `data`, nested models referenced under `#/components/schemas`."""
    return model.model_json_schema(ref_template=_SCHEMA_REF)


def envelope_schema() -> dict[str, Any]:
    schema = EventEnvelope.model_json_schema(ref_template=_SCHEMA_REF)
    # `id` has a default in the model, but a published envelope always carries it (it is the dedup id).
    schema["required"] = ["id", *[name for name in schema.get("required", []) if name != "id"]]
    for name, description in ENVELOPE_FIELDS.items():
        schema["properties"][name]["description"] = description
    return schema


def _key(event_type: str, version: int | None = None) -> str:
    """An AsyncAPI identifier (channels and operations allow letters, digits, `_` and `-`)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", event_type)
    return base if version is None else f"{base}_v{version}"


def _message(event_type: str, version: int, model: type[EventData]) -> dict[str, Any]:
    data_schema = {"$ref": _SCHEMA_REF.format(model=model.__name__)}
    return {
        "name": event_type,
        "title": f"{event_type} (v{version})",
        "summary": model.summary,
        "traits": [{"$ref": "#/components/messageTraits/natsEvent"}],
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/EventEnvelope"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "version": {"const": version},
                        "data": data_schema,
                    },
                },
            ]
        },
        "x-python-model": f"{model.__module__}.{model.__qualname__}",
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 description of everything the services publish."""
    schemas: dict[str, Any] = {}

    def add_schema(name: str, schema: dict[str, Any]) -> None:
        for nested_name, nested in schema.pop("$defs", {}).items():
            add_schema(nested_name, nested)
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name}")
        schemas[name] = schema

    add_schema("EventEnvelope", envelope_schema())
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    publishers: dict[str, Publisher] = {}
    for (event_type, version), model in event_types().items():
        channel_key, message_key = _key(event_type), _key(event_type, version)
        add_schema(model.__name__, payload_schema(model))
        messages[message_key] = _message(event_type, version, model)
        channel = channels.setdefault(
            channel_key, {"address": subject_for(event_type), "title": event_type, "messages": {}}
        )
        channel["messages"][message_key] = {"$ref": f"#/components/messages/{message_key}"}
        publishers[channel_key] = PUBLISHERS[model.publisher]
    operations = {
        f"send_{key}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{publishers[key].label[0].upper()}{publishers[key].label[1:]} publie "
            f"`{channel['title']}`.",
            "messages": [{"$ref": f"#/channels/{key}/messages/{message}"} for message in channel["messages"]],
        }
        for key, channel in channels.items()
    }
    streams = ", ".join(
        f"`{publisher.stream}` pour {publisher.label} (sujets `{publisher.subject_prefix}.<type>`, réglages "
        f"`{_setting_name(publisher.stream_setting)}` et `{_setting_name(publisher.prefix_setting)}`)"
        for publisher in PUBLISHERS.values()
    )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Engagements — événements des services",
            "version": DOCUMENT_VERSION,
            "description": ASYNCAPI_DESCRIPTION.format(streams=streams),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "messageTraits": {"natsEvent": {"contentType": "application/json", "headers": _headers_schema()}},
        },
    }


def _headers_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, (label, _required, description) in HEADERS.items():
        properties[name] = {"type": "string", "description": description}
        if "uuid" in label:
            properties[name]["format"] = "uuid"
    return {
        "type": "object",
        "required": [name for name, (_, required, _) in HEADERS.items() if required],
        "properties": properties,
    }


def type_label(schema: dict[str, Any]) -> str:
    """A short, readable type for a JSON schema: `string (uuid)`, `array of string`, `integer or null` …"""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'], ensure_ascii=False)}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(value, ensure_ascii=False)}`" for value in schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " or ".join(type_label(option) for option in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_label(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_label(schema['additionalProperties'])}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields_table(schema: dict[str, Any], descriptions: dict[str, str] | None = None) -> list[str]:
    required = set(schema.get("required", []))
    header = "| Champ | Type | Obligatoire |" + (" Description |" if descriptions else "")
    lines = [header, "|---|---|---|" + ("---|" if descriptions else "")]
    for name, field in schema.get("properties", {}).items():
        needed = "oui" if name in required else "non"
        if "default" in field:
            needed += f" (défaut `{json.dumps(field['default'], ensure_ascii=False)}`)"
        row = f"| `{name}` | {_cell(type_label(field))} | {needed} |"
        if descriptions:
            row += f" {_cell(descriptions.get(name, field.get('description', '')))} |"
        lines.append(row)
    return lines


def markdown_page() -> str:
    """The human-readable catalogue: headers, envelope, then each service's stream and event types with their
    subjects and fields."""
    envelope = envelope_schema()
    nested: dict[str, dict[str, Any]] = dict(envelope.get("$defs", {}))
    lines = [
        "# Événements des services",
        "",
        (
            "<!-- Fichier généré par `python -m shared.events.catalogue` à partir de `shared/events/` : ne pas "
            "modifier à la main. -->"
        ),
        "",
        INTRODUCTION.format(window=DEFAULT_DUPLICATE_WINDOW_SECONDS / 3600),
        "",
        NO_PERSONAL_DATA,
        "",
        f"Le même catalogue au format AsyncAPI {ASYNCAPI_VERSION} : [asyncapi.json](asyncapi.json).",
        "",
        "| Service | Flux | Sujets |",
        "|---|---|---|",
        *[
            f"| [{publisher.heading}](#{_anchor(publisher.heading)}) | `{publisher.stream}` | "
            f"`{publisher.subject_prefix}.>` |"
            for publisher in PUBLISHERS.values()
        ],
        "",
        "## En-têtes",
        "",
        "| En-tête | Type | Obligatoire | Description |",
        "|---|---|---|---|",
        *[
            f"| `{name}` | {label} | {'oui' if required else 'non'} | {_cell(description)} |"
            for name, (label, required, description) in HEADERS.items()
        ],
        "",
        "## Enveloppe",
        "",
        "Le corps de chaque message est un objet JSON :",
        "",
        *_fields_table(envelope, ENVELOPE_FIELDS),
        "",
    ]
    for publisher in PUBLISHERS.values():
        registry = event_types(publisher.key)
        lines += [
            f"## {publisher.heading}",
            "",
            PUBLISHER_INTRODUCTION.format(
                stream=publisher.stream,
                prefix=publisher.subject_prefix,
                stream_setting=_setting_name(publisher.stream_setting),
                prefix_setting=_setting_name(publisher.prefix_setting),
            ),
            "",
            "| Type | Version | Sujet | Résumé |",
            "|---|---|---|---|",
        ]
        for (event_type, version), model in registry.items():
            link = f"[`{event_type}`](#{_anchor(f'{event_type} (v{version})')})"
            lines.append(f"| {link} | {version} | `{subject_for(event_type)}` | {_cell(model.summary)} |")
        lines.append("")
        for (event_type, version), model in registry.items():
            schema = payload_schema(model)
            nested.update(schema.get("$defs", {}))
            lines += [
                f"### {event_type} (v{version})",
                "",
                model.summary,
                "",
                f"Sujet : `{subject_for(event_type)}` · modèle : `{model.__module__}.{model.__qualname__}`",
                "",
                *_fields_table(schema),
                "",
            ]
    if nested:
        lines += ["## Objets imbriqués", ""]
        for name, schema in sorted(nested.items()):
            description = NESTED_DESCRIPTIONS.get(name, schema.get("description", ""))
            lines += [
                f"### {name}",
                "",
                *([description, ""] if description else []),
                *_fields_table(schema),
                "",
            ]
    return "\n".join(lines).rstrip("\n") + "\n"


def asyncapi_json() -> str:
    return json.dumps(asyncapi_document(), ensure_ascii=False, indent=2) + "\n"


def generated_files() -> dict[Path, str]:
    """Each catalogue file (relative to the repository root) and the text the code generates for it."""
    return {MARKDOWN_PATH: markdown_page(), ASYNCAPI_PATH: asyncapi_json()}


def stale_files(root: Path = REPOSITORY_ROOT) -> list[Path]:
    """The catalogue files whose committed text differs from the generated one (missing files included)."""
    stale = []
    for relative, text in generated_files().items():
        path = root / relative
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale


def write_files(root: Path = REPOSITORY_ROOT) -> list[Path]:
    """Rewrite the catalogue files; returns those that changed."""
    changed = stale_files(root)
    for relative, text in generated_files().items():
        if relative in changed:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.events.catalogue",
        description="Generate docs/events.md and docs/asyncapi.json.",
    )
    parser.add_argument("--check", action="store_true", help="only report stale files (exit status 1)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for relative in stale:
            print(f"{relative} is out of date: run python -m shared.events.catalogue", file=sys.stderr)
        return 1 if stale else 0
    for relative in write_files():
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
