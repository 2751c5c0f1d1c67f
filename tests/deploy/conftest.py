"""The deployment files' validators: real tools, installed by the project's own setup (`make env-dev`: the dev
group of uv.lock; nginx through apt). A tool missing is a skip on a developer's machine, a failure under CI=true."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


def find_tool(name: str) -> Path:
    """The executable `name`, from the project's environment first, else on PATH; skip (fail under CI) if none."""
    beside = Path(sys.executable).parent / name
    found = (
        beside if beside.is_file() else Path(shutil.which(name) or shutil.which(name, path="/usr/sbin") or "")
    )
    if not found.is_file():
        message = f"{name} not found (installed by `make env-dev`)"
        if IN_CI:
            pytest.fail(f"{message}: required under CI=true", pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture
def tool() -> Callable[[str], Path]:
    return find_tool
