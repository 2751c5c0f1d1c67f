"""docs/configuration.md is what `python -m deploy.config_reference` generates from the settings classes (a
setting added, removed or changed without regenerating it fails here), it names every setting, and the
deployment files set no variable that no process reads (a misspelt one would be silently ignored)."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import config_reference
from tests.deploy.conftest import ROOT
from tests.deploy.test_kubernetes import of_kind, rendered


def test_the_reference_is_up_to_date() -> None:
    current = config_reference.OUTPUT.read_text(encoding="utf-8")
    assert current == config_reference.render(), "run: python -m deploy.config_reference"


def test_the_check_command_fails_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(config_reference.render().replace("`DATABASE_POOL_SIZE`", "`DATABASE_POOL`"))
    monkeypatch.setattr(config_reference, "OUTPUT", stale)
    assert config_reference.main(["--check"]) == 1
    stale.write_text(config_reference.render())
    assert config_reference.main(["--check"]) == 0


def test_every_setting_is_in_the_reference() -> None:
    page = config_reference.OUTPUT.read_text(encoding="utf-8")
    classes = config_reference.settings_classes()
    assert {cls.__name__ for cls in classes} >= {
        "ServiceSettings",
        "CommitmentsSettings",
        "NotificationsSettings",
    }
    for cls in classes:
        for name in cls.model_fields:
            assert f"| `{name.upper()}` |" in page, f"{cls.__name__}.{name}"


def test_every_variable_read_outside_the_settings_is_in_the_reference() -> None:
    listed = {name for name, *_ in config_reference.OTHER_VARIABLES}
    for folder in ("services", "shared"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in re.findall(
                r"os\.environ(?:\.get)?[(\[]\"([A-Z_]+)\"", path.read_text(encoding="utf-8")
            ):
                assert name in listed, f"{name} ({path.relative_to(ROOT)})"


# Settings another piece of work is adding: allowed while no settings class has them yet, checked like the
# others once one does (none at the moment).
PENDING: set[str] = set()


def _known(module: str) -> set[str] | None:
    """The variables the processes of `services.<module>` read; None while that service is not here."""
    if importlib.util.find_spec(f"services.{module}") is None:
        return None
    classes = [
        cls
        for cls in config_reference.settings_classes()
        if cls.__module__ in ("shared.config", f"services.{module}.config")
    ]
    settings = {name.upper() for cls in classes for name in cls.model_fields}
    all_settings = {name.upper() for cls in config_reference.settings_classes() for name in cls.model_fields}
    return settings | {name for name, *_ in config_reference.OTHER_VARIABLES} | (PENDING - all_settings)


def test_the_compose_file_sets_only_variables_the_processes_read() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, spec in services.items():
        command = spec.get("command") or []
        if not command or not str(command[0]).startswith("services."):
            continue
        known = _known(command[0].split(".")[1])
        if known is None:
            continue  # the reporting service, not merged here yet (tests/deploy/test_compose.py says so)
        unknown = set(spec["environment"]) - known
        assert not unknown, f"{name}: {sorted(unknown)}"


def test_kubernetes_sets_only_variables_the_processes_read() -> None:
    objects = rendered()
    config_maps = of_kind("ConfigMap", objects)
    job = of_kind("Job", objects)["engagements-migrate"]["spec"]["template"]["spec"]
    containers = [
        c
        for d in of_kind("Deployment", objects).values()
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    for container in containers + job["initContainers"] + job["containers"]:
        known = _known(container["args"][0].split(".")[1])
        if known is None:
            continue
        variables = {item["name"] for item in container.get("env", [])} - {
            "DB_PASSWORD"
        }  # only spelled into a URL
        for source in container.get("envFrom", []):
            variables |= set(config_maps[source["configMapRef"]["name"]]["data"])
        unknown = variables - known
        assert not unknown, f"{container['name']}: {sorted(unknown)}"


def test_the_command_line_checks_the_page() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deploy.config_reference", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
