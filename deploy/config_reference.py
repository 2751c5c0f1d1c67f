"""The configuration reference, generated from the settings classes: `python -m deploy.config_reference`
writes docs/configuration.md (`--check` says whether it is up to date, as tests/deploy/test_config_reference.py
does).

Every settings class of shared/config.py and of services/<service>/config.py is read: its own fields (those it
adds or redefines), each one's environment variable, type and default, and the comments written beside it in
the source. A setting added, removed or changed in a settings class changes the page.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import os
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs/configuration.md"

# Which processes read each settings class (the commands of `python -m services.<service>`).
PROCESSES = {
    "ServiceSettings": "every process of every service",
    "CommitmentsCallerSettings": "`python -m services.notifications` and `python -m services.reporting`",
    "CommitmentsSettings": "`python -m services.commitments` (every command)",
    "ScannerSettings": "`python -m services.commitments scan`",
    "NotificationsSettings": "`python -m services.notifications` (every command)",
    "ReportingSettings": "`python -m services.reporting` (every command)",
}

# Read straight from the environment, outside the settings classes.
OTHER_VARIABLES = [
    (
        "HOST",
        "`serve` of every service (shared/cli.py)",
        "`127.0.0.1`",
        "the address the API listens on (`--host`); the image sets `0.0.0.0`",
    ),
    (
        "PORT",
        "`serve` of every service (shared/cli.py)",
        "`8000` (commitments), `8001` (notifications), `8002` (reporting)",
        "the port the API listens on (`--port`)",
    ),
    (
        "FORWARDED_ALLOW_IPS",
        "`serve` (read by uvicorn)",
        "`127.0.0.1`",
        "the proxies whose `X-Forwarded-*` headers are trusted; `*` where only the proxy reaches the API",
    ),
]


@dataclass(frozen=True)
class Setting:
    variable: str
    type: str
    default: str
    meaning: str


def settings_classes() -> list[type[BaseSettings]]:
    """The settings classes: shared first, then each service's, each parent before its children."""
    modules = ["shared.config"] + [
        f"services.{path.parent.name}.config" for path in sorted((ROOT / "services").glob("*/config.py"))
    ]
    classes: list[type[BaseSettings]] = []
    for name in modules:
        module = importlib.import_module(name)
        found = [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseSettings) and cls.__module__ == name
        ]
        classes += sorted(found, key=lambda cls: inspect.getsourcelines(cls)[1])
    return classes


def _comments(cls: type) -> dict[str, str]:
    """The comments beside each field of `cls`'s body: the block just above it, and the one on its line."""
    source = inspect.getsource(cls)
    above: list[str] = []
    found: dict[str, str] = {}
    pending_field: str | None = None
    line_of_field: int | None = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if pending_field is not None and token.start[0] == line_of_field:
                found[pending_field] = " ".join(filter(None, [found.get(pending_field, ""), text]))
            elif token.start[1] == 4:  # a comment line of the class body
                above.append(text)
        elif (
            token.type == tokenize.NAME
            and token.start[1] == 4
            and token.line[4:].split(":")[0].isidentifier()
            and ":" in token.line
            and not token.line.strip().startswith(("def ", "class ", "@"))
        ):
            pending_field, line_of_field = token.string, token.start[0]
            found[pending_field] = " ".join(above)
            above = []
        elif token.type == tokenize.NL and token.line.strip() == "":
            above = []  # a blank line ends a comment block that belongs to nothing below
    return found


def _type(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "")


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def own_settings(cls: type[BaseSettings]) -> list[Setting]:
    """The fields `cls` declares itself, in the order of its source."""
    comments = _comments(cls)
    own = [name for name in inspect.get_annotations(cls) if name in cls.model_fields]
    prefix = str(cls.model_config.get("env_prefix") or "")
    return [
        Setting(
            (prefix + name).upper(),
            _type(cls.model_fields[name].annotation),
            _default(cls.model_fields[name].get_default(call_default_factory=True)),
            comments.get(name, ""),
        )
        for name in own
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m deploy.config_reference` from the settings classes; do not edit by hand:",
        "     tests/deploy/test_config_reference.py fails when this page and the classes differ. -->",
        "",
        (
            "Every process reads its settings from environment variables (pydantic-settings; no `.env` file is "
            "read). A variable left unset takes the default, which suits the embedded run (`make run`) on one "
            "machine. How to set them: [deployment.md](deployment.md); what the timeouts and bounds mean in "
            "operation: [operations.md](operations.md)."
        ),
        "",
    ]
    for cls in settings_classes():
        parents = [
            base.__name__
            for base in cls.__bases__
            if issubclass(base, BaseSettings) and base is not BaseSettings
        ]
        source = Path(inspect.getfile(cls)).relative_to(ROOT)
        lines += [
            f"## {cls.__name__}",
            "",
            f"Read by {PROCESSES.get(cls.__name__, 'its service')}; `{source}`"
            + (f", adding to `{'`, `'.join(parents)}`." if parents else "."),
            "",
        ]
        if cls.__doc__:
            lines += [" ".join(cls.__doc__.split()), ""]
        lines += ["| variable | type | default | meaning |", "|---|---|---|---|"]
        lines += [
            f"| `{s.variable}` | `{_cell(s.type)}` | {_cell(s.default)} | {_cell(s.meaning)} |"
            for s in own_settings(cls)
        ]
        lines.append("")
    lines += [
        "## Read outside the settings classes",
        "",
        "| variable | read by | default | meaning |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{name}` | {who} | {default} | {meaning} |" for name, who, default, meaning in OTHER_VARIABLES
    ]
    lines += [
        "",
        (
            "The embedded run (`python -m deploy.embedded`, `make run`) reads a few more of its own: see "
            "its docstring and the README."
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.config_reference", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/configuration.md is not up to date"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{os.path.relpath(OUTPUT, ROOT)} is out of date: run python -m deploy.config_reference",
                file=sys.stderr,
            )
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
