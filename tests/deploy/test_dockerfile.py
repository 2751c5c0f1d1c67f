"""The Dockerfile passes hadolint (every rule, style included), and hadolint does catch a bad one; what the
image holds (the locked dependencies without the dev group, shared/ and services/) runs every service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint(tool: Callable[[str], Path], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("hadolint")), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_dockerfile_passes_hadolint(tool: Callable[[str], Path]) -> None:
    result = hadolint(tool, DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_refuses_an_unpinned_root_image(tool: Callable[[str], Path], tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\nCMD python app.py\n")
    result = hadolint(tool, bad)
    assert result.returncode != 0
    assert {"DL3006", "DL3008", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_the_image_is_multi_stage_and_runs_as_a_user_from_the_lock_file() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.MULTILINE)
    assert {"build", "runtime"} <= set(stages)
    runtime = text.split(" AS runtime", 1)[1]
    users = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "uv sync --frozen --no-dev" in text  # the lock file as it is, without the dev group
    assert not re.search(
        r"\buv\b", re.sub(r"#.*", "", runtime.split("COPY --from=build", 1)[1])
    )  # no uv at run time


def test_the_image_pins_the_uv_of_the_repository() -> None:
    pinned = re.search(
        r"^FROM ghcr\.io/astral-sh/uv:(\S+) AS uv$", DOCKERFILE.read_text(), flags=re.MULTILINE
    )
    assert pinned
    uv = Path(sys.executable).parent / "uv"
    version = subprocess.run(
        [str(uv), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert version.split()[1] == pinned.group(1)


@pytest.mark.slow
def test_what_the_image_holds_is_enough_to_run_every_command(tmp_path: Path) -> None:
    """The build stage's steps outside a container: the Dockerfile's own `uv sync` line on the lock file alone,
    then the folders it copies, and nothing else; each service's commands start from there and a migration
    runs (on SQLite)."""
    text = DOCKERFILE.read_text()
    build = text.split(" AS build", 1)[1].split(" AS runtime", 1)[0]
    sync = re.search(r"^\s*(uv sync [^\n\\]+)$", build, flags=re.MULTILINE)
    assert sync
    app = tmp_path / "app"
    app.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, app / name)
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(app / ".venv"),
        "UV_PYTHON": sys.executable,
        "UV_LINK_MODE": "copy",
        "UV_NO_PROGRESS": "1",
        "VIRTUAL_ENV": "",
    }
    uv = Path(sys.executable).parent / "uv"
    result = subprocess.run(
        [str(uv), *sync.group(1).split()[1:], "--offline"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    copied = re.findall(r"^COPY (\S+)/ \1/$", build, flags=re.MULTILINE)
    assert set(copied) == {"shared", "services"}
    for folder in copied:
        shutil.copytree(ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    runtime_env = {
        "PATH": f"{app / '.venv/bin'}:/usr/bin:/bin",
        "PYTHONPATH": str(app),
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "NOTIFICATIONS_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
        "LOG_JSON": "false",
    }
    python = str(app / ".venv/bin/python")
    for service in ("commitments", "notifications"):
        help_text = subprocess.run(
            [python, "-m", f"services.{service}", "--help"],
            cwd=app,
            env=runtime_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert help_text.returncode == 0, help_text.stderr
        migrate = subprocess.run(
            [python, "-m", f"services.{service}", "migrate"],
            cwd=app,
            env=runtime_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
    # The development tools stay out of the image.
    assert not (app / ".venv/bin/pytest").exists() and not (app / ".venv/bin/hadolint").exists()
