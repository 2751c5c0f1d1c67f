"""Every service's command line answers `--help` without importing what its commands use (shared/cli.py): the
web framework, the ORM, pydantic, the tracing SDK, the working-day calendar, the NATS client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HEAVY_MODULES = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "opentelemetry",
    "holidays",
    "nats",
    "alembic",
)

# Runs `python -m <package> --help` in this interpreter, then lists every module it imported.
_HELP_THEN_LIST_MODULES = """
import contextlib, io, json, runpy, sys
sys.argv = [sys.argv[1], "--help"]
with contextlib.redirect_stdout(io.StringIO()) as help_text, contextlib.suppress(SystemExit):
    runpy.run_module(sys.argv[0], run_name="__main__")
print(json.dumps({"help": help_text.getvalue(), "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize(
    ("package", "commands"),
    [
        ("services.commitments", ["migrate", "serve", "relay", "scan", "create-key", "import-plan"]),
        ("services.notifications", ["migrate", "serve", "consume"]),
    ],
)
def test_help_imports_no_heavy_module(package: str, commands: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _HELP_THEN_LIST_MODULES, package],
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert all(command in result["help"] for command in commands), result["help"]
    assert [name for name in result["modules"] if name.split(".")[0] in HEAVY_MODULES] == []
